"""Evaluation protocols: objects whose ``split(dataset)`` yields train / validation / test folds.

Each protocol is one file that registers its class in ``PROTOCOLS`` (``@register_protocol``) with its
vocabulary (``protocols.base.Protocol``); the registry finds the files itself. ``make_protocol`` turns the
CLI's generic options into one of them.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.core.errors import ConfigError
from protocols.base import PROTOCOLS, Fold, Protocol, Variant, register_protocol
from protocols.cross import CrossDataset, merge_domains
from protocols.holdout import RandomHoldout
from protocols.kfold import StratifiedKFoldProtocol
from protocols.leakage import coverage, fold_leakage
from protocols.official import OfficialSplit
from protocols.subject import SubjectKFold

__all__ = [
    "PROTOCOLS", "CrossDataset", "Fold", "OfficialSplit", "Protocol", "RandomHoldout", "StratifiedKFoldProtocol",
    "SubjectKFold", "Variant", "coverage", "fold_leakage", "make_protocol", "merge_domains", "register_protocol",
]

# numpy and scikit-learn take seeds below 2**32; repeats use seed, seed + 1 ..., so half of that range is left.
MAX_SEED = 2**31 - 1


def _parse_folds(folds: int | str | None) -> int | str | None:
    """--folds as given on the command line: None, a whole number, or 'loso'."""
    if folds is None:
        return None
    if isinstance(folds, (int, np.integer)) and not isinstance(folds, bool):
        return int(folds)
    if isinstance(folds, str):
        text = folds.strip().lower()
        if text == "loso":
            return "loso"
        if text.lstrip("-").isdigit():
            return int(text)
    raise ConfigError(f"--folds must be a whole number (or 'loso' with --protocol subject), got {folds!r}")


def _parse_fractions(fractions: Sequence[float] | float | str) -> tuple[float, ...]:
    """--target-fraction as a tuple: accepts (0.5, 1.0), 0.5 or the CLI's '0.5,1.0'."""
    if isinstance(fractions, str):
        try:
            return tuple(float(f) for f in fractions.split(",") if f.strip())
        except ValueError:
            raise ConfigError(f"--target-fraction must be comma-separated numbers (e.g. 0.5,1.0), got '{fractions}'") from None
    if isinstance(fractions, (int, float)):
        return (float(fractions),)
    return tuple(fractions)


def make_protocol(name: str, *, folds: int | str | None = None, seed: int = 0, test_size: float | None = None,
                  val_size: float = 0.1, target_fractions: Sequence[float] | float | str = (1.0,),
                  options: dict[str, tuple[str, Any]] | None = None, **kw: Any) -> Protocol:
    """The protocol ``name`` built from the CLI's generic options.

    ``folds`` is what ``--folds`` says: the number of folds (kfold, subject; 'loso' for subject) or of
    repeats with different seeds (random, cross); ``official`` has one fold. ``test_size`` applies where the
    protocol holds a test fraction out (random: default 0.1; cross: default 0.2 per domain);
    ``target_fractions`` only to cross. Further keywords go to the class (e.g. ``train_size`` for random,
    ``train=``/``val=``/``test=`` split names for official). Nonsense combinations are ConfigErrors.
    """
    cls = PROTOCOLS.get(name)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"--seed must be a whole number from 0 to {MAX_SEED}, got {seed!r}")
    if not cls.trains:
        raise ConfigError(f"--protocol {name} scores models trained elsewhere and trains nothing; use "
                          "'bench eval MODEL --dataset NAME' for it")
    params = inspect.signature(cls).parameters
    folds = _parse_folds(folds)
    args: dict[str, Any] = {"seed": seed, "val_size": val_size}
    if folds is not None:
        if cls.folds_param is None:
            if folds != 1:
                raise ConfigError(f"--protocol {name} has exactly one fold; drop --folds")
        elif folds == "loso" and not cls.accepts_loso:
            what = "a number of repeats" if cls.folds_param == "repeats" else "a number of folds"
            raise ConfigError(f"--folds loso (leave-one-subject-out) needs --protocol subject; {name} takes {what}")
        elif cls.folds_param == "repeats" and folds < 1:  # type: ignore[operator]
            raise ConfigError(f"--folds {folds}: {name} needs at least 1 repeat")
        elif cls.folds_param == "folds" and folds != "loso" and folds < 2:  # type: ignore[operator]
            raise ConfigError(f"--folds {folds}: {name} needs at least 2 folds")
        else:
            args[cls.folds_param] = folds
    if test_size is not None:
        if "test_size" not in params:
            raise ConfigError(f"--test-size does not apply to --protocol {name}: "
                              + ("its folds define the test sets; use --folds" if cls.folds_param == "folds"
                                 else "the dataset's split defines the test set"))
        args["test_size"] = test_size
    fractions = _parse_fractions(target_fractions)
    if "target_fractions" in params:
        args["target_fractions"] = fractions
    elif fractions != (1.0,):
        raise ConfigError(f"--target-fraction applies only to --protocol cross, not {name}")
    for flag, (param, value) in (options or {}).items():
        if param not in params:
            takers = [e.name for e in PROTOCOLS.entries() if param in inspect.signature(e.obj).parameters]
            raise ConfigError(f"{flag} does not apply to --protocol {name}; it is an option of --protocol "
                              f"{' / '.join(takers)}")
        args[param] = value
    unknown = sorted(set(kw) - set(params))
    if unknown:
        raise ConfigError(f"protocol '{name}' has no option {', '.join(unknown)}; its options are {', '.join(params)}")
    return cls(**args, **kw)
