"""``cross``: train on a source dataset, test on a target dataset, and the adaptation strategies of paper 002.

``merge_domains(source, target)`` builds the one dataset the protocol splits: both restricted to their
shared classes, the target resized to the source's image size, ``meta["domain"]`` = "source" / "target".
Each domain is split into train / val / test on its own (subject-disjoint where the domain has subject
ids), and every strategy of a repeat is scored on the same two test sets, so that strategies compare and
forgetting of the source shows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from bench.core.errors import ConfigError, DataError
from bench.data.dataset import FERDataset, align_labels, concat
from protocols.base import (
    Fold,
    Protocol,
    Variant,
    check_count,
    check_fraction,
    grouped_holdout,
    pct,
    register_protocol,
    stratified_holdout,
)

DOMAINS = ("source", "target")

# Deep-only strategies: start from the zero-shot (source-trained) model and fine-tune on the target.
FINETUNE = (("ft-fc", "FC", "head"), ("ft-fc+cl", "FC+CL", "head+last"), ("ft-all", "RE", "all"))
VARIANTS = (
    Variant("zero-shot", "BL", "the source-trained model applied as is"),
    Variant("target-only", "SCRATCH", "trained on the target alone"),
    Variant("fusion", "FU", "trained on source + target training data"),
    Variant("ft-fc", "FC", "the source model with its dense layers fine-tuned on the target (deep only)"),
    Variant("ft-fc+cl", "FC+CL", "dense layers and last conv block fine-tuned (deep only)"),
    Variant("ft-all", "RE", "every layer fine-tuned on the target (deep only)"),
)


def merge_domains(source: FERDataset, target: FERDataset, *, name: str | None = None) -> FERDataset:
    """One dataset holding both domains, ready for ``CrossDataset.split``.

    Classes present in only one domain are dropped (``align_labels``; a DataError below 2 shared classes).
    Subject ids are prefixed with their dataset's name (``concat``). When only one domain has subject ids,
    the other's samples get the empty id "", which means "unknown": the split then treats that domain as
    subject-less and ``protocols.leakage`` ignores it.
    """
    src, tgt = align_labels(source, target)
    tgt = tgt.resized(src.image_size)
    parts = [dataclasses.replace(d, meta={**d.meta, "domain": np.full(len(d), dom)})
             for d, dom in zip((src, tgt), DOMAINS)]
    merged = concat(parts, name=name or f"{source.name}->{target.name}")
    has_subjects = {dom: d.has_subjects for d, dom in zip(parts, DOMAINS)}
    if merged.subjects is None and any(has_subjects.values()):
        # concat keeps subjects only when every part has them; keep the known ones instead of losing both.
        subjects = np.concatenate([np.char.add(d.name + "/", d.subjects) if d.subjects is not None
                                   else np.full(len(d), "") for d in parts])
        merged = dataclasses.replace(merged, subjects=subjects)
    merged.info.update(source=source.name, target=target.name, domain_subjects=has_subjects)
    return merged


def _fraction_tag(f: float) -> str:
    return "" if f == 1.0 else f"@{f:g}"


def _fold(variant: str, strategy: str, train: np.ndarray, val: np.ndarray, fraction: float, *,
          tests: dict[str, np.ndarray], suffix: str, info: dict, families: tuple[str, ...] = ("classical", "deep"),
          init_from: str | None = None, finetune: str | None = None) -> Fold:
    # Each fold gets its own dict of the (shared, read-only) test arrays of its repeat.
    return Fold(id=f"{variant}{suffix}", train=np.sort(train), val=np.sort(val), tests=dict(tests),
                variant=variant, init_from=init_from, finetune=finetune, families=families,
                info={"strategy": strategy, "target_fraction": fraction, **info})


@register_protocol
class CrossDataset(Protocol):
    """Source -> target folds on a dataset from ``merge_domains``.

    Per repeat ``r`` (seed ``seed + r``; ids suffixed ``-r1``, ``-r2`` ..., none for repeat 0) each domain is
    split into train / val / test (``test_size`` of the domain tested; ``val_size`` of its training part
    validates; by subject where the domain has subject ids, stratified otherwise), and these folds follow:

    ==============  ========  =================================  ========================================
    id              strategy  train                              notes
    ==============  ========  =================================  ========================================
    zero-shot       BL        source-train                       val source-val
    target-only     SCRATCH   target-train                       val target-val
    fusion          FU        source-train + target-train        val both
    ft-fc           FC        target-train                       deep only, from zero-shot, finetune head
    ft-fc+cl        FC+CL     target-train                       deep only, finetune head+last
    ft-all          RE        target-train                       deep only, finetune all
    ==============  ========  =================================  ========================================

    Every fold is scored on ``tests={"source": source-test, "target": target-test}``, the same for all folds
    of a repeat. For each fraction f < 1 in ``target_fractions`` the target-trained folds come again with a
    stratified f of target-train (ids suffixed ``@0.5``; the validation set stays whole so that early
    stopping is equally reliable across fractions).
    """

    name = "cross"
    summary = "source -> target: every adaptation strategy scored on both test sets (papers 000, 002)"
    folds_param = "repeats"
    data_roles = DOMAINS
    testsets = DOMAINS
    primary_testset = "target"
    variants = VARIANTS
    layout = "variants"
    rank = 0
    cli_options = {"--source / --target": "the two datasets (default synth-wild -> synth-lab)",
                   "--test-size": "test fraction of each domain (default 0.2)",
                   "--val-size": "validation fraction of each domain's training part (default 0.1)",
                   "--target-fraction": "fractions of the target training data, e.g. 0.5,1.0 (default 1.0)",
                   "--folds N": "N repeats with seeds seed .. seed+N-1 (default 1)"}

    def __init__(self, *, test_size: float = 0.2, val_size: float = 0.1, repeats: int = 1,
                 target_fractions: Sequence[float] = (1.0,), seed: int = 0) -> None:
        self.test_size = check_fraction("test_size", test_size, flag="--test-size")
        self.val_size = check_fraction("val_size", val_size, flag="--val-size")
        self.repeats = check_count("repeats", repeats, minimum=1, flag="--folds (repeats)")
        fractions = tuple(target_fractions) if not isinstance(target_fractions, (int, float)) else (target_fractions,)
        for f in fractions:
            if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 < f <= 1:
                raise ConfigError(f"--target-fraction values must be in (0, 1], got {f!r}")
        if not fractions or len(set(fractions)) != len(fractions):
            raise ConfigError(f"--target-fraction needs distinct fractions, got {list(fractions)}")
        self.target_fractions = tuple(float(f) for f in fractions)
        self.seed = int(seed)

    @classmethod
    def prepare(cls, datasets: Mapping[str, FERDataset]) -> FERDataset:
        return merge_domains(datasets["source"], datasets["target"])

    def get_n_splits(self, dataset: FERDataset | None = None) -> int:
        per_fraction = 2 + len(FINETUNE)  # target-only, fusion, ft-*
        return self.repeats * (1 + per_fraction * len(self.target_fractions))

    def _domains(self, dataset: FERDataset) -> dict[str, np.ndarray]:
        domain = dataset.meta.get("domain")
        if domain is None:
            raise DataError(f"{dataset.name} is not a cross-dataset merge (no meta['domain']); "
                            "build it with protocols.cross.merge_domains(source, target)")
        parts = {d: np.flatnonzero(domain == d) for d in DOMAINS}
        for d, idx in parts.items():
            if len(idx) == 0:
                raise DataError(f"{dataset.name} has no {d} samples; merge_domains needs both datasets non-empty")
        return parts

    def _split_domain(self, dataset: FERDataset, index: np.ndarray, domain: str, seed: int,
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        subjects = dataset.subjects
        by_subject = subjects is not None and bool(np.all(subjects[index] != ""))
        labels = dataset.labels
        if by_subject:
            assert subjects is not None
            hint = f"the {domain} dataset needs more subjects (at least 3)"
            train, test = grouped_holdout(index, labels, subjects, self.test_size, seed,
                                          what=f"{domain} test set", hint=hint)
            train, val = grouped_holdout(train, labels, subjects, self.val_size, seed,
                                         what=f"{domain} validation set", hint=hint)
        else:
            train, test = stratified_holdout(index, labels, self.test_size, seed, what=f"{domain} test set",
                                             flag="--test-size")
            train, val = stratified_holdout(train, labels, self.val_size, seed, what=f"{domain} validation set",
                                            flag="--val-size")
        return train, val, test

    def split(self, dataset: FERDataset) -> Iterator[Fold]:
        parts = self._domains(dataset)
        names = {"source": dataset.info.get("source", "source"), "target": dataset.info.get("target", "target")}
        for r in range(self.repeats):
            seed = self.seed + r
            suffix = "" if r == 0 else f"-r{r}"
            (s_train, s_val, s_test), (t_train, t_val, t_test) = (
                self._split_domain(dataset, parts[d], d, seed) for d in DOMAINS)
            common = {"tests": {"source": s_test, "target": t_test}, "suffix": suffix,
                      "info": {"repeat": r, "seed": seed, **names}}
            yield _fold("zero-shot", "BL", s_train, s_val, 0.0, **common)
            for f in self.target_fractions:
                tag = _fraction_tag(f)
                train_f = t_train
                if f < 1:
                    _, train_f = stratified_holdout(t_train, dataset.labels, f, seed,
                                                    what="target training subset",
                                                    flag="--target-fraction")
                yield _fold(f"target-only{tag}", "SCRATCH", train_f, t_val, f, **common)
                yield _fold(f"fusion{tag}", "FU", np.concatenate([s_train, train_f]),
                            np.concatenate([s_val, t_val]), f, **common)
                for variant, strategy, finetune in FINETUNE:
                    yield _fold(f"{variant}{tag}", strategy, train_f, t_val, f, **common, families=("deep",),
                                init_from=f"zero-shot{suffix}", finetune=finetune)

    def describe(self) -> str:
        fractions = ", ".join(f"{f:g}" for f in self.target_fractions)
        reps = (f", {self.repeats} repeats (seeds {self.seed}..{self.seed + self.repeats - 1})" if self.repeats > 1
                else f", seed {self.seed}")
        return (f"cross-dataset: each domain held out {pct(1 - self.test_size)}/{pct(self.test_size)} "
                f"(by subject where known), val {pct(self.val_size)} of train; zero-shot, target-only, fusion, "
                f"ft-fc, ft-fc+cl, ft-all; target fractions {fractions}{reps}")
