"""A fake of the paid OpenAI, Anthropic and Gemini APIs, close enough that the official SDKs
work against it unchanged: the demo, the tests and the benchmarks run with no key and no network.

    from costops.providers.simulator import SimConfig, create_simulator
    from costops.serving import BackgroundServer

    with BackgroundServer(create_simulator(SimConfig(latency_scale=0))) as srv:
        openai.OpenAI(base_url=srv.url + "/v1", api_key="sk-test")

Graded answers (``SimConfig(grading=Grading())``, off by default): each prompt has a hidden
difficulty and each model a skill (from its price in the catalog, overridable), and an answer
passes with probability ``sigmoid(a * (skill - difficulty))``, a two-parameter item response
model drawn deterministically per (seed, prompt, model). Half the failing answers (configurable)
show a flaw an acceptance check can catch: a hedge or refusal, an answer far too short, invalid
JSON or a missing required field; the rest read like good answers. ``GET /sim/grade?id=`` gives a
response's grade and the feedback score a user would give (0-1); ``POST /sim/grade`` grades a
request without answering it. The difficulty never travels with the request: it is derived
from the prompt's text (task, words, hash) or told by the workload (``Grading.difficulties``),
so the gateway cannot read it; the demo's routing, cascade and bandit effects come from it.

Several deployments from one server (``SimConfig(hosts=(Host("slow", latency_scale=5),
Host("flaky", error_rate_5xx=0.3)))``, or ``costops simulate --deployment slow:latency=5``):
each answers under ``/h/<name>/`` with its own speed and error rates, so arbitrage between
providers of one model is tested offline.

Modules: ``app`` (ASGI routing, failures, latency, sending), ``behaviour`` (tasks, lengths,
words, latency profiles, markers), ``generate`` (one API-neutral answer), ``grading`` (the item
response model, skills, difficulties, grades), ``flaws`` (how a failing answer reads), ``fill``
(values for JSON schemas), ``checks`` (a semantic cache's yes/no check), ``prompt_cache`` (implicit and explicit provider caching),
``embeddings``, and one shaper per API: ``openai``, ``anthropic``, ``gemini``.
"""

from costops.providers.simulator.app import Simulator, create_simulator
from costops.providers.simulator.config import Host, SimConfig
from costops.providers.simulator.grading import Grading, item_key

__all__ = ["Grading", "Host", "SimConfig", "Simulator", "create_simulator", "item_key"]
