"""``cross``: train on a source dataset, test on one or more target datasets, and the adaptation strategies of
papers 000 and 002.

``merge_domains(source, targets)`` builds the one dataset the protocol splits: the source with its classes, each
target restricted to the classes it shares with the source (the others are left out, and said so) and resized to
the source's image size, ``meta["domain"]`` naming each sample's domain. Each domain is split into
train / val / test on its own:

- the source by its official split when it has one (FER2013's Training / PublicTest / PrivateTest), otherwise by
  ``source_split`` ratios (subject-disjoint where it has subject ids);
- each target by ``target_split`` ratios, subject-disjoint by default (``target_split_by="random"`` reproduces a
  paper's random split; the leakage report then counts the shared subjects).

The source model (``zero-shot``) is trained once per repeat and scored on the source test set and every target's
test set; every target-trained strategy is scored on the source test set and its own target's, so strategies
compare and forgetting of the source shows.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from bench.core.errors import ConfigError, DataError
from bench.data.catalog import split_specs
from bench.data.dataset import FERDataset, concat
from protocols.base import (
    Fold,
    Protocol,
    Variant,
    check_count,
    check_fraction,
    check_val_size,
    grouped_holdout,
    pct,
    register_protocol,
    stratified_holdout,
)
from protocols.official import OfficialSplit

SOURCE = "source"
SPLIT_BY = ("subject", "random")

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


def target_testset(target: str, n_targets: int) -> str:
    """A target's test-set (and domain) name: ``target`` for a single target, ``target:NAME`` for several."""
    return "target" if n_targets == 1 else f"target:{target}"


def parse_ratios(value: str | Sequence[float] | None, flag: str) -> tuple[float, float, float] | None:
    """``'0.6/0.2/0.2'`` -> train / validation / test fractions of a domain, which must add up to 1."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            parts = tuple(float(v) for v in value.replace(",", "/").split("/"))
        except ValueError:
            raise ConfigError(f"{flag} '{value}' is not TRAIN/VAL/TEST fractions such as 0.6/0.2/0.2") from None
    else:
        parts = tuple(float(v) for v in value)
    if len(parts) != 3:
        raise ConfigError(f"{flag} '{value}' needs three fractions TRAIN/VAL/TEST, e.g. 0.6/0.2/0.2")
    train, val, test = parts
    if train <= 0 or test <= 0 or val < 0:
        raise ConfigError(f"{flag} {value}: train and test fractions must be > 0 and val >= 0")
    if abs(train + val + test - 1) > 1e-6:
        raise ConfigError(f"{flag} {'/'.join(f'{p:g}' for p in parts)} adds up to {train + val + test:g}, not 1; "
                          "give fractions of the whole domain, e.g. 0.6/0.2/0.2")
    return train, val, test


def merge_domains(source: FERDataset, targets: FERDataset | Sequence[FERDataset] | Mapping[str, FERDataset], *,
                  name: str | None = None) -> FERDataset:
    """One dataset holding the source and its targets, ready for ``CrossDataset.split``.

    The source keeps its classes; each target keeps the classes it shares with the source (a DataError naming
    both label sets below 2 shared classes, with ``--labels`` as the fix) and is resized to the source's size.
    Subject ids are prefixed with their dataset's name (``concat``); where a domain has no subject ids its samples
    get the empty id "", which means "unknown": the split then treats that domain as subject-less and
    ``protocols.leakage`` ignores it. ``info["left_out"]`` names each target's classes that were dropped.
    """
    if isinstance(targets, FERDataset):
        targets = {targets.name: targets}
    elif not isinstance(targets, Mapping):
        targets = {t.name: t for t in targets}
    if not targets:
        raise ConfigError("cross-dataset needs at least one target dataset (--target)")
    src = source
    parts = [dataclasses.replace(src, meta={**src.meta, "domain": np.full(len(src), SOURCE)})]
    left_out: dict[str, list[str]] = {}
    for key, tgt in targets.items():
        shared = [c for c in tgt.class_names if c in src.class_names]
        if len(shared) < 2:
            raise DataError(
                f"source '{src.name}' ({', '.join(src.class_names)}) and target '{key}' ({', '.join(tgt.class_names)}) "
                f"share {len(shared)} classes; cross-dataset work needs at least 2: merge or restrict classes with "
                "--labels (e.g. --labels contempt=disgust, or --labels angry,happy,sad)")
        left_out[key] = [c for c in tgt.class_names if c not in shared]
        tgt = tgt.select_classes(shared).resized(src.image_size)
        domain = target_testset(key, len(targets))
        parts.append(dataclasses.replace(tgt, meta={**tgt.meta, "domain": np.full(len(tgt), domain)}))
    merged = concat(parts, name=name or f"{source.name}->{','.join(targets)}")
    domain_subjects = {p.meta["domain"][0] if len(p) else "": p.has_subjects for p in parts}
    if merged.subjects is None and any(domain_subjects.values()):
        # concat keeps subjects only when every part has them; keep the known ones instead of losing them all.
        subjects = np.concatenate([np.char.add(d.name + "/", d.subjects) if d.subjects is not None
                                   else np.full(len(d), "") for d in parts])
        merged = dataclasses.replace(merged, subjects=subjects)
    merged.classes = tuple(sorted(set(src.classes)))
    merged.info.update(source=source.name, targets=list(targets), target=",".join(targets),
                       domain_subjects=domain_subjects, left_out=left_out)
    return merged


def parse_variants(value: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """``--variants``: variant names or the papers' strategy names (``target-only,RE``), in canonical order and
    always with ``zero-shot`` (the source model every fine-tuning starts from); None keeps them all."""
    if value is None:
        return None
    items = [v.strip() for v in (value.split(",") if isinstance(value, str) else value) if str(v).strip()]
    by_name = {k.lower(): v.name for v in VARIANTS for k in (v.name, v.strategy)}
    unknown = [v for v in items if v.lower() not in by_name]
    if unknown or not items:
        known = ", ".join(f"{v.name} ({v.strategy})" for v in VARIANTS)
        raise ConfigError(f"--variants {','.join(unknown) or repr(value)}: not a cross-dataset variant; give some of "
                          f"{known}")
    chosen = {by_name[v.lower()] for v in items} | {"zero-shot"}
    return tuple(v.name for v in VARIANTS if v.name in chosen)


def _fraction_tag(f: float) -> str:
    return "" if f == 1.0 else f"@{f:g}"


def _fold(variant: str, strategy: str, train: np.ndarray, val: np.ndarray, fraction: float, *, fold_id: str,
          tests: dict[str, np.ndarray], info: dict, families: tuple[str, ...] = ("classical", "deep"),
          init_from: str | None = None, finetune: str | None = None) -> Fold:
    # Each fold gets its own dict of the (shared, read-only) test arrays of its repeat.
    return Fold(id=fold_id, train=np.sort(train), val=np.sort(val), tests=dict(tests), variant=variant,
                init_from=init_from, finetune=finetune, families=families,
                info={"strategy": strategy, "target_fraction": fraction, **info})


@register_protocol
class CrossDataset(Protocol):
    """Source -> targets folds on a dataset from ``merge_domains``.

    Per repeat ``r`` (seed ``seed + r``; ids suffixed ``-r1``, ``-r2`` ..., none for repeat 0) each domain is
    split into train / val / test (see the module docstring), and these folds follow:

    ==============  ========  =================================  ========================================
    variant         strategy  train                              notes
    ==============  ========  =================================  ========================================
    zero-shot       BL        source-train                       val source-val; once for every target
    target-only     SCRATCH   target-train                       val target-val
    fusion          FU        source-train + target-train        val both
    ft-fc           FC        target-train                       deep only, from zero-shot, finetune head
    ft-fc+cl        FC+CL     target-train                       deep only, finetune head+last
    ft-all          RE        target-train                       deep only, finetune all
    ==============  ========  =================================  ========================================

    With several targets the target-trained variants are named ``VARIANT:TARGET`` (fold ids ``TARGET.VARIANT``).
    For each fraction f < 1 in ``target_fractions`` the target-trained folds come again with a stratified f of
    target-train (``@0.5``; the validation set stays whole so that early stopping is equally reliable).
    """

    name = "cross"
    summary = "source -> target(s): every adaptation strategy scored on the source and target test sets (papers 000, 002)"
    folds_param = "repeats"
    data_roles = ("source", "target")
    testsets = ("source", "target")
    primary_testset = "target"
    variants = VARIANTS
    layout = "variants"
    rank = 0
    cli_options = {"--source / --target": "the source and one or more targets, comma-separated "
                                          "(default synth-wild -> synth-lab)",
                   "--source-split": "source train/val/test fractions, e.g. 0.8/0.1/0.1 (default: its official "
                                     "split when it has one, else --test-size and --val-size)",
                   "--target-split": "target train/val/test fractions, e.g. 0.6/0.2/0.2 (default: --test-size and "
                                     "--val-size)",
                   "--target-split-by": "subject (default: subject-disjoint where the target has subjects) or random",
                   "--test-size / --val-size": "test fraction of a domain (0.2) and val fraction of its rest (0.1)",
                   "--target-fraction": "fractions of the target training data, e.g. 0.5,1.0 (default 1.0)",
                   "--labels": "merge (A=B) or keep (A,B,...) classes in every domain",
                   "--source-run": "take the trained source models of an earlier run instead of training them",
                   "--variants": "only these strategies besides zero-shot, e.g. target-only,ft-all (or SCRATCH,RE; "
                                 "default: all)",
                   "--folds N": "N repeats with seeds seed .. seed+N-1 (default 1)"}

    def __init__(self, *, test_size: float = 0.2, val_size: float = 0.1, repeats: int = 1,
                 target_fractions: Sequence[float] = (1.0,), seed: int = 0,
                 source_split: str | Sequence[float] | None = None, target_split: str | Sequence[float] | None = None,
                 target_split_by: str = "subject", variants: str | Sequence[str] | None = None) -> None:
        self.test_size = check_fraction("test_size", test_size, flag="--test-size")
        self.val_size = check_val_size(val_size)
        self.repeats = check_count("repeats", repeats, minimum=1, flag="--folds (repeats)")
        fractions = tuple(target_fractions) if not isinstance(target_fractions, (int, float)) else (target_fractions,)
        for f in fractions:
            if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 < f <= 1:
                raise ConfigError(f"--target-fraction values must be in (0, 1], got {f!r}")
        if not fractions or len(set(fractions)) != len(fractions):
            raise ConfigError(f"--target-fraction needs distinct fractions, got {list(fractions)}")
        self.target_fractions = tuple(float(f) for f in fractions)
        self.seed = int(seed)
        self.source_split = parse_ratios(source_split, "--source-split")
        self.target_split = parse_ratios(target_split, "--target-split")
        if target_split_by not in SPLIT_BY:
            raise ConfigError(f"--target-split-by '{target_split_by}' is not one of {', '.join(SPLIT_BY)}")
        self.target_split_by = target_split_by
        self.variants = parse_variants(variants)

    def config(self) -> dict:
        out = super().config()
        if out["variants"] is None:  # runs made before --variants existed keep their identity
            del out["variants"]
        return out

    def _runs(self, variant: str) -> bool:
        return self.variants is None or variant in self.variants

    multi_roles = ("target",)

    @classmethod
    def prepare(cls, datasets: Mapping[str, FERDataset | Mapping[str, FERDataset]]) -> FERDataset:
        targets = datasets["target"]
        return merge_domains(datasets["source"], targets)  # type: ignore[arg-type]

    @classmethod
    def targets_of(cls, config: Mapping[str, object]) -> list[str]:
        """The target dataset specs of a run configuration (``--target jaffe,taiwan``)."""
        return split_specs(str(config["target"]))

    @classmethod
    def target_testsets(cls, config: Mapping[str, object]) -> dict[str, str]:
        """Target spec -> its test-set name in this run's folds."""
        targets = cls.targets_of(config)
        return {t: target_testset(t, len(targets)) for t in targets}

    @classmethod
    def panels(cls, config: Mapping[str, object]) -> list[tuple[str, str, str]]:
        tests = cls.target_testsets(config)
        if len(tests) == 1:
            return [("", "", "target")]
        return [(t, f":{t}", testset) for t, testset in tests.items()]

    @classmethod
    def variant(cls, fold_variant: str) -> Variant | None:
        return super().variant(fold_variant.split(":", 1)[0])

    @classmethod
    def strategy(cls, fold_variant: str) -> str:
        return super().strategy(fold_variant.split(":", 1)[0])

    def get_n_splits(self, dataset: FERDataset | None = None) -> int:
        n_targets = len(self._targets(dataset)) if dataset is not None else 1
        per_fraction = sum(self._runs(v.name) for v in VARIANTS[1:])  # target-only, fusion, ft-*
        return self.repeats * (1 + per_fraction * len(self.target_fractions) * n_targets)

    def _targets(self, dataset: FERDataset) -> list[str]:
        return list(dataset.info.get("targets") or [dataset.info.get("target", "target")])

    def _domains(self, dataset: FERDataset) -> dict[str, np.ndarray]:
        domain = dataset.meta.get("domain")
        if domain is None:
            raise DataError(f"{dataset.name} is not a cross-dataset merge (no meta['domain']); "
                            "build it with protocols.cross.merge_domains(source, targets)")
        keys = [SOURCE] + [target_testset(t, len(self._targets(dataset))) for t in self._targets(dataset)]
        parts = {d: np.flatnonzero(domain == d) for d in keys}
        for d, idx in parts.items():
            if len(idx) == 0:
                raise DataError(f"{dataset.name} has no {d} samples; merge_domains needs every dataset non-empty")
        return parts

    def _split_domain(self, dataset: FERDataset, index: np.ndarray, domain: str, seed: int,
                      ratios: tuple[float, float, float] | None, by_subject: bool,
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """train / val / test of one domain: ``ratios`` of the whole, else ``test_size`` then ``val_size``."""
        subjects = dataset.subjects
        known = subjects is not None and bool(np.all(subjects[index] != ""))
        flag = "--source-split" if domain == SOURCE else "--target-split"
        if ratios is None:
            test_size, val_of_rest = self.test_size, self.val_size
        else:
            test_size, val_of_rest = ratios[2], ratios[1] / (ratios[0] + ratios[1])
        if by_subject and known:
            assert subjects is not None
            hint = f"the {domain} dataset needs more subjects, or use {flag} with a larger share"
            train, test = grouped_holdout(index, dataset.labels, subjects, test_size, seed,
                                          what=f"{domain} test set", hint=hint)
            if val_of_rest == 0:
                return train, np.empty(0, dtype=np.int64), test
            train, val = grouped_holdout(train, dataset.labels, subjects, val_of_rest, seed,
                                         what=f"{domain} validation set", hint=hint)
            return train, val, test
        train, test = stratified_holdout(index, dataset.labels, test_size, seed, what=f"{domain} test set",
                                         flag=flag if ratios else "--test-size")
        if val_of_rest == 0:
            return train, np.empty(0, dtype=np.int64), test
        train, val = stratified_holdout(train, dataset.labels, val_of_rest, seed, what=f"{domain} validation set",
                                        flag=flag if ratios else "--val-size")
        return train, val, test

    def _split_source(self, dataset: FERDataset, index: np.ndarray, seed: int
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
        if self.source_split is None and "split" in dataset.meta:
            source = dataset.subset(index)
            if set(np.char.lower(source.meta["split"].astype(str)).tolist()) & {"training", "train"}:
                official = OfficialSplit(val_size=self.val_size or 0.1, seed=seed)
                fold = next(official.split(source))
                return index[fold.train], index[fold.val], index[fold.test], "official split"
        train, val, test = self._split_domain(dataset, index, SOURCE, seed, self.source_split, by_subject=True)
        return train, val, test, self._describe_ratios(self.source_split, "by subject where known")

    def split(self, dataset: FERDataset) -> Iterator[Fold]:
        parts = self._domains(dataset)
        targets = self._targets(dataset)
        by_subject = self.target_split_by == "subject"
        for r in range(self.repeats):
            seed = self.seed + r
            suffix = "" if r == 0 else f"-r{r}"
            s_train, s_val, s_test, how = self._split_source(dataset, parts[SOURCE], seed)
            self._source_how = how  # what describe() reports: known once the source is seen
            splits = {t: self._split_domain(dataset, parts[target_testset(t, len(targets))],
                                            target_testset(t, len(targets)), seed, self.target_split, by_subject)
                      for t in targets}
            tests = {SOURCE: s_test, **{target_testset(t, len(targets)): splits[t][2] for t in targets}}
            info = {"repeat": r, "seed": seed, "source": dataset.info.get("source", SOURCE), "source_split": how}
            yield _fold("zero-shot", "BL", s_train, s_val, 0.0, fold_id=f"zero-shot{suffix}", tests=tests,
                        info={**info, "target": None})
            for t in targets:
                t_train, t_val, t_test = splits[t]
                key = target_testset(t, len(targets))
                pair = {SOURCE: s_test, key: t_test}
                where = "" if len(targets) == 1 else f":{t}"
                prefix = "" if len(targets) == 1 else f"{re.sub(r'[^A-Za-z0-9_+=-]', '_', t)}."
                common = {"tests": pair, "info": {**info, "target": t}}
                for f in self.target_fractions:
                    tag = _fraction_tag(f)
                    train_f = t_train
                    if f < 1:
                        _, train_f = stratified_holdout(t_train, dataset.labels, f, seed,
                                                        what="target training subset",
                                                        flag="--target-fraction")
                    for variant, strategy, kwargs in (
                            ("target-only", "SCRATCH", {"train": train_f, "val": t_val}),
                            ("fusion", "FU", {"train": np.concatenate([s_train, train_f]),
                                              "val": np.concatenate([s_val, t_val])})):
                        if not self._runs(variant):
                            continue
                        yield _fold(f"{variant}{tag}{where}", strategy, kwargs["train"], kwargs["val"], f,
                                    fold_id=f"{prefix}{variant}{tag}{suffix}", **common)
                    for variant, strategy, finetune in FINETUNE:
                        if not self._runs(variant):
                            continue
                        yield _fold(f"{variant}{tag}{where}", strategy, train_f, t_val, f,
                                    fold_id=f"{prefix}{variant}{tag}{suffix}", **common, families=("deep",),
                                    init_from=f"zero-shot{suffix}", finetune=finetune)

    def _describe_ratios(self, ratios: tuple[float, float, float] | None, how: str) -> str:
        if ratios is None:
            return f"{pct(1 - self.test_size)}/{pct(self.test_size)} held out, val {pct(self.val_size)} of train, {how}"
        return f"{'/'.join(pct(r) for r in ratios)} train/val/test, {how}"

    def describe(self) -> str:
        strategies = ", ".join(self.variants or [v.name for v in VARIANTS])
        fractions = ", ".join(f"{f:g}" for f in self.target_fractions)
        reps = (f", {self.repeats} repeats (seeds {self.seed}..{self.seed + self.repeats - 1})" if self.repeats > 1
                else f", seed {self.seed}")
        if (self.source_split is None and self.target_split is None and self.target_split_by == "subject"
                and getattr(self, "_source_how", None) != "official split"):
            # The wording of runs made before per-domain splits existed, kept for their leaderboard rows.
            return (f"cross-dataset: each domain held out {pct(1 - self.test_size)}/{pct(self.test_size)} "
                    f"(by subject where known; a source with an official split uses it), val {pct(self.val_size)} "
                    f"of train; {strategies}; target fractions "
                    f"{fractions}{reps}")
        how = getattr(self, "_source_how", None)
        if how == "official split":
            source = "its official split (Training / PublicTest / PrivateTest)"
        elif how is not None or self.source_split is not None:
            source = self._describe_ratios(self.source_split, "by subject where known")
        else:
            source = "its official split where it has one, else " + self._describe_ratios(None, "by subject where known")
        target = self._describe_ratios(self.target_split, "by subject where known" if self.target_split_by == "subject"
                                       else "random (people may be shared)")
        return f"cross-dataset: source {source}; target {target}; {strategies}; target fractions {fractions}{reps}"
