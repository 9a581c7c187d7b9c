"""The synthetic dataset family: importing this module registers ``synth-lab`` and ``synth-wild``.

Both are generated on demand from a seed (same seed and parameters, byte-identical output) and need no files.
Defaults are sized so the README's main run (about twenty classical pipelines and several CNNs, source
``synth-wild`` -> target ``synth-lab``) fits in about 15 minutes on two cores:

- ``synth-wild``: n=6000, seed=0, subjects=600, size=48, label_noise=0.07 (FER2013-like)
- ``synth-lab``:  n=720, seed=0, subjects=24, size=96 (JAFFE/CK+-like; 8 classes, every class posed by every
  subject, so subject-disjoint 10-fold works)

Override them in a spec: ``synth-wild:n=20000,seed=3``.
"""

from __future__ import annotations

import inspect
import time

from bench.data.catalog import SYNTHETIC, Synthetic
from bench.data.synth.domains import GENERATOR_VERSION, generate_lab, generate_wild

__all__ = ["GENERATOR_VERSION", "generate_lab", "generate_wild", "generation_speed"]


def _defaults(fn) -> dict:
    return {k: p.default for k, p in inspect.signature(fn).parameters.items()}


SYNTHETIC.add("synth-lab", Synthetic(
    "synth-lab", generate_lab,
    "lab-like (JAFFE/CK+): few subjects posing 8 classes incl. contempt at 3 intensities, frontal, clean, 96x96",
    _defaults(generate_lab)), family="synthetic")
SYNTHETIC.add("synth-wild", Synthetic(
    "synth-wild", generate_wild,
    "wild-like (FER2013): many subjects, 7 classes at FER2013 shares, strong nuisance, 7% label noise, 48x48",
    _defaults(generate_wild)), family="synthetic")


def generation_speed(name: str, n: int = 2000, **params) -> float:
    """Images per second for generating ``n`` images of a synthetic dataset (a benchmark, not a test)."""
    syn = SYNTHETIC.get(name)
    start = time.perf_counter()
    syn.generate(**{**syn.defaults, **params, "n": n})
    return n / (time.perf_counter() - start)
