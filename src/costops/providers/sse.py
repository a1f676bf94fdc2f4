"""Server-sent events: an incremental parser and the encoder, shared by every streaming path.

Bytes arrive cut anywhere (mid-line, mid-UTF-8 sequence, between ``\\r`` and ``\\n``); the parser
keeps the tail and returns only complete events, so callers never see half an event.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson


@dataclass(slots=True)
class SSEEvent:
    data: bytes
    event: str | None = None

    def json(self) -> object:
        return orjson.loads(self.data)


class SSEParser:
    def __init__(self) -> None:
        self._buf = b""

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        buf = self._buf + chunk
        keep = b""
        if buf.endswith(b"\r"):  # its LF may come in the next chunk: decide then
            buf, keep = buf[:-1], b"\r"
        if b"\r" in buf:
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        events: list[SSEEvent] = []
        while True:
            end = buf.find(b"\n\n")
            if end < 0:
                break
            block, buf = buf[:end], buf[end + 2 :]
            event = _parse_block(block)
            if event is not None:
                events.append(event)
        self._buf = buf + keep
        return events

    def close(self) -> list[SSEEvent]:
        """Whatever a server sent without the final blank line."""
        block, self._buf = self._buf, b""
        event = _parse_block(block.strip(b"\n")) if block.strip() else None
        return [event] if event is not None else []


def _parse_block(block: bytes) -> SSEEvent | None:
    name: str | None = None
    data: list[bytes] = []
    for line in block.split(b"\n"):
        if not line or line.startswith(b":"):
            continue
        field, _, value = line.partition(b":")
        if value.startswith(b" "):
            value = value[1:]
        if field == b"data":
            data.append(value)
        elif field == b"event":
            name = value.decode()
    if not data and name is None:
        return None
    return SSEEvent(b"\n".join(data), name)


def encode_event(data: bytes | object, event: str | None = None) -> bytes:
    """One SSE event; ``data`` is bytes as-is or an object encoded as JSON."""
    payload = data if isinstance(data, bytes) else orjson.dumps(data)
    head = b"event: " + event.encode() + b"\n" if event else b""
    return head + b"data: " + payload + b"\n\n"
