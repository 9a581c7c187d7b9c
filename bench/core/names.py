"""Names that become file and folder names (datasets, run folders): plain names only, never paths.

A plain name is letters, digits and ``-_.+=,`` without a leading dot, so it can never climb out of its folder
(``..``, ``/``, an absolute path), never hide (``.x``) and never holds ``:``, which a dataset spec reserves
for its options (``synth-wild:n=2000``).
"""

from __future__ import annotations

import re

from bench.core.errors import ConfigError

PLAIN_NAME = re.compile(r"[A-Za-z0-9_+=,-][A-Za-z0-9_.+=,-]*")
MAX_LENGTH = 200  # file systems allow 255 bytes; leave room for suffixes such as .npz and temporary names


def check_plain_name(name: str, flag: str) -> str:
    """``name`` itself when it is a plain name, else a ConfigError naming ``flag`` and the rule."""
    if not isinstance(name, str) or not PLAIN_NAME.fullmatch(name) or len(name) > MAX_LENGTH:
        raise ConfigError(f"{flag} {name!r} is not a plain name: use letters, digits and -_.+=, only, not "
                          f"starting with a dot and at most {MAX_LENGTH} characters (e.g. {flag} ck-run2)")
    return name
