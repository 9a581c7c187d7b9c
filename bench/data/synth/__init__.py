"""Procedurally rendered grayscale faces: identities, FACS-style expressions, nuisance, and two domains.

``bench.data.synth.catalog`` registers the datasets (``synth-lab``, ``synth-wild``); this package holds the parts:
``faces`` (identity and renderer), ``expressions`` (action units and per-subject style), ``nuisance``
(geometric and photometric corruption) and ``domains`` (the two domains and the generator).
"""
