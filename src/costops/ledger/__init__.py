"""The usage ledger: records, their stores, the batched writer, and the queries reports run."""
