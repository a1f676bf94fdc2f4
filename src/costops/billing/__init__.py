"""Provider bills: their usage and cost reports read (:mod:`.bills`) and checked against the ledger (:mod:`.reconcile`)."""
