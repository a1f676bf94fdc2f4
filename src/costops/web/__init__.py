"""The web dashboard: its panels, its HTTP handler, and its assets (shipped in the package)."""
