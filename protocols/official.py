"""``official``: the dataset's own split (FER2013's Training / PublicTest / PrivateTest), like ``PredefinedSplit``."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from bench.core.errors import ConfigError, DataError
from bench.data.dataset import FERDataset
from protocols.base import (
    Fold,
    Protocol,
    carve_validation,
    check_val_size,
    pct,
    register_protocol,
    require_samples,
)

# The spellings of split names in the common exports; compared lower-cased.
DEFAULT_NAMES: dict[str, tuple[str, ...]] = {
    "train": ("training", "train"),
    "val": ("publictest", "val", "valid", "validation", "dev"),
    "test": ("privatetest", "test"),
}


# Named variants of the official split (``--official-split``): which values of the split column play which role.
# paper003: PublicTest + PrivateTest are the test set (7,178 FER2013 images); validation is carved from Training.
VARIANTS: dict[str, dict[str, tuple[str, ...]]] = {
    "standard": {},
    "paper003": {"train": ("training", "train"), "val": (), "test": ("publictest", "privatetest", "test")},
}


def _names(role: str, value: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return DEFAULT_NAMES[role]
    names = (value,) if isinstance(value, str) else tuple(value)
    if role == "val" and not names:
        return ()  # no validation part: it is carved from train
    if not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise ConfigError(f"{role} must name one or more values of the split column, got {value!r}")
    return tuple(n.strip().lower() for n in names)


@register_protocol
class OfficialSplit(Protocol):
    """One fold (id ``official``) from the per-sample column ``meta[column]``.

    ``train``, ``val`` and ``test`` name the column values of each role (a name or a tuple of names; by
    default FER2013's Training -> train, PublicTest -> val, PrivateTest -> test, and train/val/test). When
    the dataset has no validation part, a stratified ``val_size`` of the training part is carved out. Every
    value of the column must map to a role, so no sample is silently left out.
    """

    name = "official"
    summary = "the dataset's own split (FER2013: Training / PublicTest / PrivateTest), like PredefinedSplit"
    rank = 4
    cli_options = {"--dataset": "a dataset with an official split column (FER2013)",
                   "--official-split": "standard (Training / PublicTest / PrivateTest) or paper003 (test = "
                                       "PublicTest + PrivateTest, validation carved from Training)",
                   "--val-size": "validation fraction of train when the split has no validation part (default 0.1)"}

    def __init__(self, *, column: str = "split", variant: str = "standard", train: str | tuple[str, ...] | None = None,
                 val: str | tuple[str, ...] | None = None, test: str | tuple[str, ...] | None = None,
                 val_size: float = 0.1, seed: int = 0) -> None:
        if not isinstance(column, str) or not column:
            raise ConfigError(f"column must name a per-sample meta column, got {column!r}")
        if variant not in VARIANTS:
            raise ConfigError(f"--official-split '{variant}' is not one of {', '.join(VARIANTS)}")
        self.column = column
        self.variant = variant
        roles = VARIANTS[variant]
        train = roles.get("train", train) if train is None else train
        val = roles.get("val", val) if val is None else val
        test = roles.get("test", test) if test is None else test
        # Stored as given (None = the usual spellings), like sklearn parameters; resolved by _roles().
        self.train, self.val, self.test = train, val, test
        roles = [n for names in self._roles().values() for n in names]
        if len(set(roles)) != len(roles):
            raise ConfigError(f"a split name is given to two roles: {self._roles()}")
        self.val_size = check_val_size(val_size)
        self.seed = int(seed)

    def _roles(self) -> dict[str, tuple[str, ...]]:
        return {role: _names(role, getattr(self, role)) for role in ("train", "val", "test")}

    def get_n_splits(self, dataset: FERDataset | None = None) -> int:
        return 1

    def split(self, dataset: FERDataset) -> Iterator[Fold]:
        require_samples(dataset, self.name)
        column = dataset.meta.get(self.column)
        if column is None:
            raise DataError(f"{dataset.name} has no official split (meta['{self.column}']); "
                            "use --protocol random, kfold or subject")
        values = np.char.lower(np.char.strip(column.astype(str)))
        roles = self._roles()
        unknown = sorted(set(np.unique(values).tolist()) - {n for names in roles.values() for n in names})
        if unknown:
            known = "; ".join(f"{role}: {'/'.join(names)}" for role, names in roles.items())
            raise DataError(
                f"{dataset.name}: split value(s) {', '.join(repr(u) for u in unknown)} are none of ({known}); "
                "name them with the protocol's train=/val=/test= options")
        parts = {role: np.flatnonzero(np.isin(values, names)) for role, names in roles.items()}
        for role in ("train", "test"):
            if len(parts[role]) == 0:
                raise DataError(f"{dataset.name}'s official split has no {role} samples "
                                f"(values {sorted(set(values.tolist()))}); use --protocol random or kfold")
        train, val = parts["train"], parts["val"]
        val_from = "official"
        if len(val) == 0:
            train, val = carve_validation(dataset, train, self.val_size, self.seed, by_subject=False,
                                          fold_id="official")
            val_from = f"{pct(self.val_size)} of train"
        yield Fold(id="official", train=train, val=val, tests={"test": parts["test"]},
                   info={"seed": self.seed, "val_from": val_from})

    def describe(self) -> str:
        if self.variant == "paper003":
            return (f"official split, paper 003's variant: Training -> train, PublicTest + PrivateTest -> test, "
                    f"val {pct(self.val_size)} of train")
        if (self.train, self.val, self.test) == (None, None, None):
            roles = "Training -> train, PublicTest -> val, PrivateTest -> test (or train/val/test)"
        else:
            roles = ", ".join(f"{'/'.join(names)} -> {role}" for role, names in self._roles().items())
        return (f"official split (meta['{self.column}']): {roles}; "
                f"without a val part, val {pct(self.val_size)} of train")
