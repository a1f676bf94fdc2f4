"""Embeddings for OpenAI's ``/v1/embeddings`` and Gemini's ``embedContent``.

A vector is feature-hashed from the input's words: each word adds a signed unit at a few
positions chosen by its hash, and the sum is normalized. So the same text always gets the same
unit vector (on every seed: it is a model, not a draw), and texts sharing most words are close
in cosine, which lets a semantic cache be exercised offline.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
from array import array
from typing import Any

import orjson

from costops.providers.simulator.wire import SimError
from costops.tokens import TokenCounter

_WORD = re.compile(r"\w+")
_SLOTS = 8  # positions per word


def vector(text: str | list[int], dims: int) -> list[float]:
    values = [0.0] * dims
    features = [str(t) for t in text] if isinstance(text, list) else _WORD.findall(text.lower())
    for feature in features or [""]:
        digest = hashlib.blake2b(feature.encode(), digest_size=2 * _SLOTS + 1).digest()
        signs = digest[-1]
        for k in range(_SLOTS):
            slot = (digest[2 * k] << 8 | digest[2 * k + 1]) % dims
            values[slot] += -1.0 if signs >> k & 1 else 1.0
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def _float32_base64(values: list[float]) -> str:
    return base64.b64encode(array("f", values).tobytes()).decode()


def openai_embeddings(body: dict[str, Any], counter: TokenCounter) -> bytes:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise SimError(400, "you must provide a model parameter", "model")
    raw = body.get("input")
    if isinstance(raw, str) or (isinstance(raw, list) and raw and all(isinstance(t, int) for t in raw)):
        inputs: list[Any] = [raw]
    elif isinstance(raw, list) and raw and all(isinstance(t, (str, list)) for t in raw):
        inputs = raw
    else:
        raise SimError(400, "'input' must be a non-empty string, array of strings, or array of token arrays.", "input")
    dims = body.get("dimensions")
    if dims is not None:
        if "text-embedding-3" not in model:
            raise SimError(400, "This model does not support specifying dimensions.", "dimensions")
        if not isinstance(dims, int) or dims < 1:
            raise SimError(400, "'dimensions' must be an integer >= 1.", "dimensions")
    else:
        dims = 3072 if model.endswith("-large") else 1536
    as_base64 = body.get("encoding_format") == "base64"
    data, tokens = [], 0
    for i, item in enumerate(inputs):
        if isinstance(item, str):
            tokens += counter.count(item)
        else:
            tokens += len(item)
        values = vector(item, dims)
        data.append({"object": "embedding", "index": i, "embedding": _float32_base64(values) if as_base64 else values})
    return orjson.dumps({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    })


def _gemini_one(request: Any, model: str) -> dict[str, Any]:
    if not isinstance(request, dict) or not isinstance(request.get("content"), dict):
        raise SimError(400, "* EmbedContentRequest.content: content is not specified")
    parts = request["content"].get("parts") or []
    text = "\n".join(p.get("text", "") for p in parts if isinstance(p, dict))
    dims = request.get("outputDimensionality") or request.get("output_dimensionality")
    if not isinstance(dims, int) or dims < 1:
        dims = 3072 if "gemini-embedding" in model else 768
    return {"values": vector(text, dims)}


def gemini_embed(body: dict[str, Any], model: str) -> bytes:
    return orjson.dumps({"embedding": _gemini_one(body, model)})


def gemini_batch_embed(body: dict[str, Any], model: str) -> bytes:
    requests = body.get("requests")
    if not isinstance(requests, list) or not requests:
        raise SimError(400, "* BatchEmbedContentsRequest.requests: requests is not specified")
    return orjson.dumps({"embeddings": [_gemini_one(r, model) for r in requests]})
