"""A fake of the paid OpenAI, Anthropic and Gemini APIs, close enough that the official SDKs
work against it unchanged: the demo, the tests and the benchmarks run with no key and no network.

    from costops.providers.simulator import SimConfig, create_simulator
    from costops.serving import BackgroundServer

    with BackgroundServer(create_simulator(SimConfig(latency_scale=0))) as srv:
        openai.OpenAI(base_url=srv.url + "/v1", api_key="sk-test")

Modules: ``app`` (ASGI routing, failures, latency, sending), ``behaviour`` (tasks, lengths,
words, latency profiles, markers), ``generate`` (one API-neutral answer), ``fill`` (values for
JSON schemas), ``prompt_cache`` (implicit and explicit provider caching), ``embeddings``, and
one shaper per API: ``openai``, ``anthropic``, ``gemini``.
"""

from costops.providers.simulator.app import Simulator, create_simulator
from costops.providers.simulator.config import SimConfig

__all__ = ["SimConfig", "Simulator", "create_simulator"]
