"""Spend control on the request path: budgets (reservations, windows, downgrades, blocks),
alerts and forecasts; rate limits and the priority queue.

Pure decisions (:mod:`windows`, :mod:`admission`, :mod:`forecast`) are kept apart from the I/O
that feeds them (:mod:`reservations` and :mod:`redis_state` for state, :mod:`alerts` for
delivery, :mod:`ledger_view` for the recorded spend). Nothing here runs at import time.
"""
