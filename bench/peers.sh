#!/usr/bin/env bash
# Install the peer gateways for bench/gateway.py, outside the project's own dependencies.
#
#   bash bench/peers.sh            # install what is missing (idempotent)
#   bash bench/peers.sh --force    # reinstall the peers
#
# Everything lands under bench/.peers/ (gitignored):
#   bench/.peers/litellm/   a venv with litellm[proxy]        -> bench/.peers/litellm/bin/litellm
#   bench/.peers/portkey/   an npm project with @portkey-ai/gateway, run with node
# plus the `wrk` load generator from Debian packages when it is available (root only).
#
# Versions can be pinned with LITELLM_SPEC (default 'litellm[proxy]') and PORTKEY_SPEC
# (default '@portkey-ai/gateway').
#
# Portkey note: @portkey-ai/gateway 1.15.x declares "@hono/node-server": "^1.3.3". With
# @hono/node-server >= 1.14.2 every *streamed* chat completion fails with
# `TypeError: immutable` (the gateway appends x-portkey-* headers to a Response whose headers are
# the upstream fetch's immutable Headers object; the lightweight Response of newer node-server
# versions passes them through). The package's own postinstall (patch-package) ships no patches.
# We therefore pin @hono/node-server to 1.14.1, the newest release with which streaming works,
# through npm "overrides". Non-streamed requests work with any version.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PEERS="$HERE/.peers"
FORCE=0
[[ "${1:-}" == "--force" ]] && FORCE=1
LITELLM_SPEC="${LITELLM_SPEC:-litellm[proxy]}"
PORTKEY_SPEC="${PORTKEY_SPEC:-@portkey-ai/gateway}"
HONO_NODE_SERVER_PIN="${HONO_NODE_SERVER_PIN:-1.14.1}"
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"

mkdir -p "$PEERS"

# ---------------------------------------------------------------- wrk
if ! command -v wrk >/dev/null 2>&1; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    if ! apt-cache policy wrk 2>/dev/null | grep -q 'Candidate: [0-9]'; then
      apt-get update -qq || true
    fi
    if apt-cache policy wrk 2>/dev/null | grep -q 'Candidate: [0-9]'; then
      echo "peers: installing wrk"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
    else
      echo "peers: no wrk package; bench/gateway.py will use its asyncio load generator"
    fi
  else
    echo "peers: wrk missing and not root; bench/gateway.py will use its asyncio load generator"
  fi
fi
command -v wrk >/dev/null 2>&1 && echo "peers: wrk $(wrk -v 2>&1 | head -1 | awk '{print $2}')"

# ---------------------------------------------------------------- LiteLLM proxy
LVENV="$PEERS/litellm"
if [[ $FORCE -eq 1 ]]; then rm -rf "$LVENV"; fi
if [[ ! -x "$LVENV/bin/litellm" ]]; then
  echo "peers: installing $LITELLM_SPEC into $LVENV"
  "$PYTHON" -m venv "$LVENV"
  "$LVENV/bin/pip" install -q --disable-pip-version-check --upgrade pip 2>/dev/null || true
  "$LVENV/bin/pip" install -q --disable-pip-version-check "$LITELLM_SPEC" 2>&1 \
    | grep -v "^WARNING: Location" || true
fi
if [[ -x "$LVENV/bin/litellm" ]]; then
  echo "peers: litellm $("$LVENV/bin/python" -c 'import importlib.metadata as m; print(m.version("litellm"))')"
else
  echo "peers: LiteLLM install FAILED" >&2
fi

# ---------------------------------------------------------------- Portkey gateway
PDIR="$PEERS/portkey"
if [[ $FORCE -eq 1 ]]; then rm -rf "$PDIR"; fi
if command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1; then
  mkdir -p "$PDIR"
  ENTRY="$PDIR/node_modules/@portkey-ai/gateway/build/start-server.js"
  HONO_PKG="$PDIR/node_modules/@hono/node-server/package.json"
  have_pin() { [[ -f "$HONO_PKG" ]] && grep -q "\"version\": \"$HONO_NODE_SERVER_PIN\"" "$HONO_PKG"; }
  if [[ ! -f "$ENTRY" ]] || ! have_pin; then
    echo "peers: installing $PORTKEY_SPEC into $PDIR (@hono/node-server pinned to $HONO_NODE_SERVER_PIN)"
    cat > "$PDIR/package.json" <<EOF
{
  "name": "costops-bench-portkey",
  "version": "0.0.0",
  "private": true,
  "description": "Portkey gateway installed for bench/gateway.py (not part of costops)",
  "overrides": { "@hono/node-server": "$HONO_NODE_SERVER_PIN" }
}
EOF
    (cd "$PDIR" && npm install --no-audit --no-fund --loglevel=error "$PORTKEY_SPEC" 2>&1 \
      | grep -v "install-scripts" || true)
  fi
  if [[ -f "$ENTRY" ]]; then
    echo "peers: @portkey-ai/gateway $(node -p "require('$PDIR/node_modules/@portkey-ai/gateway/package.json').version")" \
         "(@hono/node-server $(node -p "require('$HONO_PKG').version"), node $(node --version))"
  else
    echo "peers: Portkey install FAILED" >&2
  fi
else
  echo "peers: node/npm missing; skipping Portkey (apt-get install -y nodejs npm)" >&2
fi
