"""The demo: a realistic workload replayed through the gateway against the simulator."""
