"""Scripts that run inside a peer's own virtual environment (see ``benchmarks/_peers.py``)."""
