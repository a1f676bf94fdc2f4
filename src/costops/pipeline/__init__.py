"""The request's way through the gateway as a chain of handlers: the contract (:mod:`.contract`),
the one function that builds the chain (:mod:`.chain`), and its innermost step, one provider
attempt (:mod:`.attempt`)."""
