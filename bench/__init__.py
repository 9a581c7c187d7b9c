"""fer-bench: one harness, the same protocols, for classical and deep facial expression recognition."""

__version__ = "0.1.0"
