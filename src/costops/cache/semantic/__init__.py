"""The semantic response cache: a static embedding, an ANN index per scope, and a verifier.

``stage.semantic_cache_stage`` builds the gateway stage; ``bench/semantic_eval.py`` measures
precision and recall on the paraphrase set, which chose the default threshold.
"""
