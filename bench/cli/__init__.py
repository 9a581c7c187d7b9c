"""The ``bench`` command line (the top layer: it may import everything below it)."""

from bench.cli.app import main

__all__ = ["main"]
