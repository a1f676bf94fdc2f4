"""``costops serve``'s server tunes the garbage collector once its app has started: young
collections at GC_THRESHOLDS instead of every 700 allocations, and what start-up built frozen
out of the collector's sight. The test restores the process's collector afterwards."""

from __future__ import annotations

import asyncio
import gc
import threading
import time

from costops.serving import GC_THRESHOLDS, ServingServer, free_port, uvicorn_config


async def app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                started_with.append((gc.get_threshold(), gc.get_freeze_count()))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


started_with: list[tuple[tuple[int, int, int], int]] = []


def test_the_serving_server_tunes_and_freezes_the_collector_after_the_app_started() -> None:
    before = gc.get_threshold()
    assert before != GC_THRESHOLDS
    server = ServingServer(uvicorn_config(app, "127.0.0.1", free_port()))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    try:
        thread.start()
        deadline = time.monotonic() + 15
        while not gc.get_freeze_count() and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.started
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() > 0  # start-up's objects, out of every collection's sight
        (thresholds, frozen), = started_with
        assert thresholds == GC_THRESHOLDS and frozen == 0  # frozen only once the app's start-up was done
    finally:
        server.should_exit = True
        thread.join(15)
        gc.unfreeze()
        gc.set_threshold(*before)

