"""Prometheus metrics: counters the request path feeds cheaply (:mod:`.tally`), exposed at scrape
time (:mod:`.exposition`)."""
