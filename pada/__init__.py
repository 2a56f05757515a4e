"""pada: a reproducible benchmark harness for PaDA-Agent and its baselines."""

__version__ = "0.1.0"
