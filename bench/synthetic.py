"""Synthetic dataset family (filled in by the synthetic work)."""
