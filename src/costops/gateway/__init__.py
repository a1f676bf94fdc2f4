"""The HTTP gateway: an ASGI app whose request path is a short list of stages."""
