"""pybench: pytest for noisy code."""

__version__ = "0.1.0"
