"""What a protocol yields: folds of (train, validation, test) indices, in the spirit of scikit-learn splitters.

Besides ``Fold`` and ``Protocol`` this module holds the two hold-out helpers every protocol uses to carve its
validation set out of a fold's training part (stratified, or grouped by subject), so that all protocols carve
it the same way and early stopping or tuning never sees a test sample.
"""

from __future__ import annotations

import math
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
from sklearn.model_selection import GroupShuffleSplit, StratifiedGroupKFold, StratifiedShuffleSplit

from bench.core.emotions import EMOTIONS
from bench.core.errors import ConfigError, DataError
from bench.core.registry import Registry
from bench.data.dataset import FERDataset

# sklearn warns per call when a class is rarer than n_splits; protocols warn once per split with the fix instead.
SKLEARN_RARE_CLASS = r"The least populated class in y has only"


@dataclass
class Fold:
    """One unit of evaluation: indices into the dataset given to ``Protocol.split``.

    ``tests`` names every test set the fold is scored on ({"test": test} normally; cross-dataset folds have
    {"source": ..., "target": ...}). ``val`` is always carved out of the fold's training part.
    ``init_from`` names the fold whose trained model initialises this one (deep fine-tuning strategies),
    ``finetune`` which parameters then train ("head", "head+last", "all"); ``families`` lists the model
    families the fold applies to (classical pipelines cannot be fine-tuned).
    """

    id: str
    train: np.ndarray
    val: np.ndarray
    tests: dict[str, np.ndarray]
    variant: str = ""
    init_from: str | None = None
    finetune: str | None = None
    families: tuple[str, ...] = ("classical", "deep")
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Plain int64 index arrays whatever the splitter returned, so folds compare and serialise alike.
        self.train = np.asarray(self.train, dtype=np.int64)
        self.val = np.asarray(self.val, dtype=np.int64)
        self.tests = {k: np.asarray(v, dtype=np.int64) for k, v in self.tests.items()}

    @property
    def test(self) -> np.ndarray:
        return np.concatenate(list(self.tests.values())) if len(self.tests) > 1 else next(iter(self.tests.values()))


@dataclass(frozen=True)
class Variant:
    """A kind of fold a protocol yields (cross-dataset: ``zero-shot`` ...), with its label in the papers."""

    name: str
    strategy: str
    meaning: str


class Protocol(ABC):
    """Base class: ``split(dataset)`` yields Folds; ``get_n_splits(dataset)`` says how many.

    A protocol owns its vocabulary, so the engine, tuning, leaderboard and reports ask it instead of testing
    its name:

    - ``data_roles``: the dataset options it loads (``dataset``; cross-dataset: ``source`` and ``target``), and
      ``prepare`` turns the loaded datasets into the one dataset ``split`` receives;
    - ``testsets`` / ``primary_testset``: the test sets of each fold and the one that ranks models;
    - ``variants``: the kinds of folds it yields (empty: all folds alike) and their strategy labels;
    - ``layout``: the leaderboard table it gets, ``"folds"`` (mean over folds, CI, paired p-values) or
      ``"variants"`` (one column per variant on every test set, and the memory-integrity table);
    - ``inflation_role``: ``"leaky"`` when people are shared between train and test, ``"subject-disjoint"``
      when never; the leaderboard compares the two on the same data;
    - ``cli_options``: the command-line options it reads, for ``bench protocols``;
    - ``folds_param`` names the parameter the generic ``--folds`` sets ("folds", "repeats" or None when the
      number of folds is fixed) and ``accepts_loso`` whether ``--folds loso`` means something to it;
    - ``trains``: False for a protocol whose folds only score models trained elsewhere (``zero-shot``, used by
      ``bench eval``); ``bench run`` and ``bench tune`` refuse it.
    """

    name: str = ""
    summary: str = ""
    folds_param: str | None = None
    accepts_loso: bool = False
    data_roles: tuple[str, ...] = ("dataset",)
    multi_roles: tuple[str, ...] = ()
    testsets: tuple[str, ...] = ("test",)
    primary_testset: str = "test"
    variants: tuple[Variant, ...] = ()
    layout: str = "folds"
    inflation_role: str | None = None
    trains: bool = True
    rank: int = 50  # position of its tables in the leaderboard
    cli_options: dict[str, str] = {}

    @abstractmethod
    def split(self, dataset: FERDataset) -> Iterator[Fold]:
        ...

    def get_n_splits(self, dataset: FERDataset | None = None) -> int:
        if dataset is None:
            raise ConfigError(f"protocol '{self.name}' needs the dataset to count its folds")
        return sum(1 for _ in self.split(dataset))

    @classmethod
    def prepare(cls, datasets: Mapping[str, FERDataset | Mapping[str, FERDataset]]) -> FERDataset:
        """The dataset ``split`` works on, from the loaded datasets of ``data_roles`` (a role in
        ``multi_roles`` takes several comma-separated datasets and arrives as {spec: dataset})."""
        return datasets[cls.data_roles[0]]  # type: ignore[return-value]

    @classmethod
    def data_label(cls, specs: Mapping[str, str]) -> str:
        """The data part of run and study names: ``synth-lab``, ``synth-wild-to-synth-lab``."""
        return "-to-".join(str(specs[r]) for r in cls.data_roles)

    @classmethod
    def data_title(cls, specs: Mapping[str, str]) -> str:
        """The data as the leaderboard heads it: ``synth-lab``, ``synth-wild -> synth-lab``."""
        return " -> ".join(str(specs[r]) for r in cls.data_roles)

    @classmethod
    def panels(cls, config: Mapping[str, object]) -> list[tuple[str, str, str]]:
        """How a run's results split into tables: (title, suffix of its fold variants, its ranking test set);
        one untitled panel unless the protocol scores several targets (cross-dataset)."""
        return [("", "", cls.primary_testset)]

    @classmethod
    def variant(cls, fold_variant: str) -> Variant | None:
        """The variant a fold's ``variant`` belongs to (``fusion@0.5`` -> fusion), or None."""
        base = fold_variant.split("@")[0]
        return next((v for v in cls.variants if v.name == base), None)

    @classmethod
    def strategy(cls, fold_variant: str) -> str:
        """A fold variant's label in the papers: ``fusion@0.5`` -> ``FU@0.5``; unknown ones as they are."""
        v = cls.variant(fold_variant)
        return fold_variant if v is None else v.strategy + fold_variant[len(v.name):]

    @classmethod
    def variant_fraction(cls, fold_variant: str) -> float:
        """The share of the target training data a fold variant used: ``fusion@0.5`` -> 0.5; all of it: 1."""
        share = fold_variant.split(":", 1)[0].partition("@")[2]
        return float(share) if share else 1.0

    @classmethod
    def variant_rank(cls, fold_variant: str) -> int:
        v = cls.variant(fold_variant)
        return len(cls.variants) if v is None else cls.variants.index(v)

    def config(self) -> dict:
        """The protocol's parameters, stored in the run manifest."""
        return {"name": self.name, **{k: v for k, v in vars(self).items() if not k.startswith("_")}}

    def describe(self) -> str:
        """One human-readable line for the leaderboard header."""
        return repr(self)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({params})"


PROTOCOLS: Registry[type[Protocol]] = Registry("protocol")
PROTOCOLS.declare_family("protocols", "protocols")
LAYOUTS = ("folds", "variants")


def register_protocol(cls: type[Protocol]) -> type[Protocol]:
    """Class decorator: register a protocol under its ``name``, after checking its vocabulary."""
    what = f"protocol '{cls.name}'"
    if not cls.summary:
        raise ConfigError(f"{what}: registration is missing 'summary' (one line for bench protocols)")
    if cls.layout not in LAYOUTS:
        raise ConfigError(f"{what}: layout '{cls.layout}' is not one of {', '.join(LAYOUTS)}")
    if cls.primary_testset not in cls.testsets:
        raise ConfigError(f"{what}: primary_testset '{cls.primary_testset}' is not one of its testsets")
    if cls.layout == "variants" and not cls.variants:
        raise ConfigError(f"{what}: the 'variants' layout needs its variants")
    PROTOCOLS.add(cls.name, cls, family="protocols")
    return cls


# ---------------------------------------------------------------------------- parameter checks
def check_fraction(name: str, value: object, *, flag: str | None = None) -> float:
    """A fraction strictly between 0 and 1, or a ConfigError naming the option."""
    opt = flag or name
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise ConfigError(f"{opt} must be a fraction between 0 and 1 (e.g. 0.1), got {value!r}")
    return float(value)


def check_val_size(value: object) -> float:
    """``--val-size``: a fraction in [0, 1); 0 carves no validation set (deep models then train for their
    preset's fixed epochs and keep the last weights)."""
    if value == 0 and not isinstance(value, bool):
        return 0.0
    return check_fraction("val_size", value, flag="--val-size")


def check_count(name: str, value: object, *, minimum: int, flag: str | None = None) -> int:
    """An integer of at least ``minimum``, or a ConfigError naming the option."""
    opt = flag or name
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{opt} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def fold_ids(n: int, prefix: str = "fold") -> list[str]:
    """``fold-00``, ``fold-01`` ...: zero-padded so that ids sort in fold order (wider past 100 folds)."""
    width = max(2, len(str(n - 1)))
    return [f"{prefix}-{i:0{width}d}" for i in range(n)]


def pct(x: float) -> str:
    return f"{x * 100:.3g}%"


# ---------------------------------------------------------------------------- data checks
def require_samples(dataset: FERDataset, protocol: str) -> None:
    if len(dataset) == 0:
        raise DataError(f"dataset '{dataset.name}' is empty; protocol '{protocol}' has nothing to split")


def rarest_class(labels: np.ndarray) -> tuple[str, int]:
    """Name and sample count of the least populated class present in ``labels``."""
    classes, counts = np.unique(labels, return_counts=True)
    i = int(np.argmin(counts))
    return EMOTIONS[int(classes[i])], int(counts[i])


# ---------------------------------------------------------------------------- hold-out helpers
def stratified_holdout(
    index: np.ndarray, labels: np.ndarray, size: float, seed: int, *, what: str, flag: str, hint: str = ""
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``index`` into (rest, held): ``size`` of it held out, stratified by ``labels[index]``.

    A class with a single sample cannot be on both sides; it stays in ``rest`` (the training side) rather
    than making the whole split fail. ``what`` names the held-out set and ``flag`` the option that sets
    ``size``: the error says whether it must grow or shrink; ``hint`` is another way out (e.g. "fewer --folds").
    """
    index = np.asarray(index, dtype=np.int64)
    y = labels[index]
    classes, counts = np.unique(y, return_counts=True)
    single = np.isin(y, classes[counts < 2])
    pool, kept = index[~single], index[single]
    try:
        splitter = StratifiedShuffleSplit(n_splits=1, test_size=size, random_state=seed)
        rest, held = next(splitter.split(np.zeros(len(pool)), y[~single]))
    except ValueError as exc:
        n_classes, n_held = int(np.count_nonzero(counts >= 2)), math.ceil(size * len(pool))
        if len(pool) == 0:
            reason, fix = "no class has two samples", "use a dataset with more samples per class"
        elif n_held < n_classes:
            reason, fix = f"{n_held} held-out samples cannot cover {n_classes} classes", f"use a larger {flag}"
        elif len(pool) - n_held < n_classes:
            reason = f"{len(pool) - n_held} remaining samples cannot cover {n_classes} classes"
            fix = f"use a smaller {flag}"
        else:
            reason, fix = str(exc), f"check {flag}"
        raise DataError(f"cannot hold out a stratified {pct(size)} {what} from {len(index)} samples of "
                        f"{len(classes)} classes: {reason}; {fix}{f' or {hint}' if hint else ''}") from None
    return np.sort(np.concatenate([pool[rest], kept])), np.sort(pool[held])


def grouped_holdout(
    index: np.ndarray, labels: np.ndarray, groups: np.ndarray, size: float, seed: int, *, what: str, hint: str
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``index`` into (rest, held) with no group (subject) on both sides; about ``size`` held out.

    With enough groups this is one fold of ``StratifiedGroupKFold(round(1 / size))`` (class shares kept
    close to the whole, the fold nearest the requested size); with fewer groups than that it falls back to
    ``GroupShuffleSplit``, which holds out ceil(size * groups) groups without stratification.
    """
    index = np.asarray(index, dtype=np.int64)
    y, g = labels[index], groups[index]
    n_groups = len(np.unique(g))
    if n_groups < 2:
        raise DataError(f"cannot hold out a subject-disjoint {what} from {n_groups} subject; {hint}")
    k = max(2, round(1 / size))
    if n_groups >= k:
        splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=SKLEARN_RARE_CLASS)
            candidates = [test for _, test in splitter.split(np.zeros(len(index)), y, g)]
        target = size * len(index)
        held = min(candidates, key=lambda t: abs(len(t) - target))
    else:
        splitter = GroupShuffleSplit(n_splits=1, test_size=size, random_state=seed)
        _, held = next(splitter.split(np.zeros(len(index)), y, g))
    mask = np.zeros(len(index), dtype=bool)
    mask[held] = True
    return np.sort(index[~mask]), np.sort(index[mask])


def carve_validation(
    dataset: FERDataset, train: np.ndarray, val_size: float, seed: int, *, by_subject: bool, fold_id: str
) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) with val carved out of the fold's training part, never out of its test set; no val when
    ``val_size`` is 0."""
    if val_size == 0:
        return np.sort(np.asarray(train, dtype=np.int64)), np.empty(0, dtype=np.int64)
    what = f"validation set for {fold_id}"
    if by_subject:
        assert dataset.subjects is not None
        return grouped_holdout(train, dataset.labels, dataset.subjects, val_size, seed, what=what,
                               hint="use a dataset with more subjects, fewer --folds or --protocol kfold")
    return stratified_holdout(train, dataset.labels, val_size, seed, what=what, flag="--val-size",
                              hint="fewer --folds")
