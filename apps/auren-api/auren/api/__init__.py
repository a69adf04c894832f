"""HTTP API of the AUREN dashboard."""
