"""fer-bench: one harness, the same protocols, for classical and deep facial expression recognition.

``bench.register_model`` is the public decorator a user's own model registers with (``--include FILE``, or an
installed package's ``fer_bench.models`` entry point); ``bench.core.contracts.Model`` says what the model must
provide.
"""

from bench.core.models import register_model

__version__ = "0.1.0"

__all__ = ["__version__", "register_model"]
