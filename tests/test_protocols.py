"""Protocols: invariants checked over every registered protocol (as scikit-learn tests its splitters), then
the specifics of each, the leakage report and the CLI mapping of ``make_protocol``.

Datasets are built here directly (random 8x8 images), independent of the synthetic data generator.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.core.emotions import INDEX
from bench.core.errors import ConfigError, DataError
from bench.data.dataset import FERDataset
from protocols import (
    PROTOCOLS,
    CrossDataset,
    Fold,
    OfficialSplit,
    RandomHoldout,
    StratifiedKFoldProtocol,
    SubjectKFold,
    coverage,
    fold_leakage,
    make_protocol,
    merge_domains,
)

LAB_CLASSES = ("angry", "happy", "sad", "surprise")
WILD_CLASSES = ("angry", "disgust", "happy", "sad")


# ---------------------------------------------------------------------------- tiny datasets
def make_dataset(name: str, counts: np.ndarray | None = None, *, classes: tuple[str, ...] = LAB_CLASSES,
                 per_class: int = 0, subjects: bool = True, size: int = 8, seed: int = 0,
                 meta: dict | None = None) -> FERDataset:
    """``counts[s, c]`` images of class c for subject s (with subjects), or ``per_class`` images per class."""
    rng = np.random.default_rng(seed)
    codes = np.array([INDEX[c] for c in classes])
    if subjects:
        assert counts is not None
        subj = np.concatenate([np.full(int(counts[s].sum()), f"s{s:02d}") for s in range(len(counts))])
        labels = np.concatenate([np.repeat(codes, counts[s]) for s in range(len(counts))])
    else:
        subj, labels = None, np.repeat(codes, per_class)
    n = len(labels)
    images = rng.integers(0, 256, (n, size, size), dtype=np.uint8)
    return FERDataset(name, images, labels, [f"{name}/{i}.png" for i in range(n)], subjects=subj,
                      meta=meta or {})


def lab(n_subjects: int = 12, seed: int = 0, **kw) -> FERDataset:
    """A lab-like dataset: every subject shows every class 2 to 5 times (class shares differ per subject)."""
    counts = np.random.default_rng(seed).integers(2, 6, (n_subjects, len(LAB_CLASSES)))
    return make_dataset("lab", counts, seed=seed, **kw)


def wild(per_class: int = 30, **kw) -> FERDataset:
    """An in-the-wild-like dataset: no subject ids, larger images, a class (disgust) the lab lacks."""
    return make_dataset("wild", classes=WILD_CLASSES, per_class=per_class, subjects=False, size=10, seed=1, **kw)


def with_official_split(ds: FERDataset, seed: int = 0) -> FERDataset:
    roles = np.random.default_rng(seed).choice(["Training", "PublicTest", "PrivateTest"], len(ds), p=[.7, .15, .15])
    return FERDataset(ds.name, ds.images, ds.labels, ds.files, ds.subjects, meta={"split": roles})


def dataset_for(name: str) -> FERDataset:
    if name == "cross":
        return merge_domains(wild(), lab())
    if name in ("official", "zero-shot"):
        return with_official_split(lab())
    return lab()


# Every registered protocol, with the options the CLI would pass (make_protocol keywords).
CASES = {
    "random": [{"folds": 3}, {"train_size": 0.6, "val_size": 0.2, "test_size": 0.2}],
    "kfold": [{"folds": 4}],
    "subject": [{"folds": 4}, {"folds": "loso"}],
    "official": [{}],
    "cross": [{"folds": 2, "target_fractions": (0.5, 1.0)}],
    "zero-shot": [{"split": "all"}, {"split": "test"},
                  {"split": "test", "within": {"name": "kfold", "folds": 4, "seed": 0, "val_size": 0.1}}],
}
ALL = [pytest.param(name, kw, id=f"{name}-{i}") for name, cases in CASES.items() for i, kw in enumerate(cases)]
EXHAUSTIVE = {"kfold", "subject"}  # protocols that test every sample exactly once


def protocol_for(name: str, kw: dict, seed: int = 0):
    """The protocol as its command builds it: make_protocol for bench run, the class itself for bench eval's
    zero-shot (whose folds come from the options it is given, not from a seed)."""
    if not PROTOCOLS.get(name).trains:
        return PROTOCOLS.get(name)(**kw)
    return make_protocol(name, seed=seed, **kw)


def folds_of(name: str, kw: dict, seed: int = 0) -> tuple[FERDataset, list[Fold]]:
    ds = dataset_for(name)
    return ds, list(protocol_for(name, kw, seed).split(ds))


def populations(ds: FERDataset, fold: Fold) -> dict[str, np.ndarray]:
    """What each test set is drawn from: its domain for cross-dataset folds, else the whole dataset."""
    if "domain" in ds.meta:
        return {k: np.flatnonzero(ds.meta["domain"] == k) for k in fold.tests}
    return {k: np.arange(len(ds)) for k in fold.tests}


def assert_disjoint_fold(ds: FERDataset, fold: Fold, trains: bool = True) -> None:
    sets = {"train": fold.train, "val": fold.val, **{f"test:{k}": v for k, v in fold.tests.items()}}
    for label, idx in sets.items():
        assert len(np.unique(idx)) == len(idx), f"{fold.id}: {label} repeats an index"
        assert idx.size == 0 or (idx.min() >= 0 and idx.max() < len(ds)), f"{fold.id}: {label} out of range"
    names = list(sets)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert len(np.intersect1d(sets[a], sets[b])) == 0, f"{fold.id}: {a} and {b} overlap"
    assert all(len(t) for t in fold.tests.values())
    assert (len(fold.train) and len(fold.val)) if trains else not (len(fold.train) or len(fold.val))


def test_every_registered_protocol_is_tested():
    assert set(PROTOCOLS.names()) == set(CASES)


# ---------------------------------------------------------------------------- invariants, every protocol
@pytest.mark.parametrize("name, kw", ALL)
def test_folds_disjoint_and_validation_inside_training_part(name, kw):
    ds, folds = folds_of(name, kw)
    trains = PROTOCOLS.get(name).trains
    for fold in folds:
        assert_disjoint_fold(ds, fold, trains)
        pops = populations(ds, fold)
        for key, test in fold.tests.items():
            # The test set and the fold's train + val partition the population: val came out of training.
            rest = np.setdiff1d(pops[key], test)
            used = np.intersect1d(np.union1d(fold.train, fold.val), pops[key])
            assert np.all(np.isin(used, rest))
        if name != "cross" and trains:
            assert len(np.union1d(np.union1d(fold.train, fold.val), fold.test)) == len(ds)


@pytest.mark.parametrize("name, kw", ALL)
def test_count_equals_get_n_splits(name, kw):
    ds, folds = folds_of(name, kw)
    protocol = protocol_for(name, kw)
    assert len(folds) == protocol.get_n_splits(ds)
    assert len({f.id for f in folds}) == len(folds), "fold ids must be unique"


@pytest.mark.parametrize("name, kw", ALL)
def test_same_seed_same_folds(name, kw):
    (_, a), (_, b) = folds_of(name, kw, seed=3), folds_of(name, kw, seed=3)
    assert [f.id for f in a] == [f.id for f in b]
    for fa, fb in zip(a, b):
        assert np.array_equal(fa.train, fb.train) and np.array_equal(fa.val, fb.val)
        assert fa.tests.keys() == fb.tests.keys()
        assert all(np.array_equal(fa.tests[k], fb.tests[k]) for k in fa.tests)


@pytest.mark.parametrize("name, kw", [p for p in ALL if p.values[0] in ("random", "kfold", "cross")])
def test_different_seed_different_folds(name, kw):
    (_, a), (_, b) = folds_of(name, kw, seed=0), folds_of(name, kw, seed=1)
    assert any(not np.array_equal(fa.test, fb.test) for fa, fb in zip(a, b))


# Official splits are the dataset's own (zero-shot scores them as they are); leave-one-subject-out tests one
# person, whatever their class shares.
@pytest.mark.parametrize("name, kw", [p for p in ALL if p.values[0] != "official" and p.values[1].get("folds") != "loso"
                                      and p.values[1] != {"split": "test"}])
def test_test_sets_are_stratified(name, kw):
    ds, folds = folds_of(name, kw)
    for fold in folds:
        pops = populations(ds, fold)
        for key, test in fold.tests.items():
            pop = ds.labels[pops[key]]
            # Whole subjects move together, so subject-disjoint test sets only approximate the class shares.
            by_subject = name == "subject" or (name == "cross" and key == "target")
            for c in np.unique(pop):
                share, got = np.mean(pop == c), np.mean(ds.labels[test] == c)
                if by_subject:
                    assert abs(got - share) <= 0.1, (fold.id, key, c, got, share)
                else:
                    assert abs(got - share) * len(test) <= 1.0, (fold.id, key, c, got, share)


@pytest.mark.parametrize("name, kw", ALL)
def test_no_index_overlap_in_leakage_report(name, kw):
    ds, folds = folds_of(name, kw)
    for fold in folds:
        for report in fold_leakage(ds, fold).values():
            assert report["train_test_overlap"] == 0 and report["val_test_overlap"] == 0
            assert report["duplicate_images"] == 0  # random images: no exact duplicates


@pytest.mark.parametrize("name, kw", [p for p in ALL if p.values[0] in EXHAUSTIVE])
def test_every_sample_tested_exactly_once(name, kw):
    ds, folds = folds_of(name, kw)
    cov = coverage(ds, folds)
    assert cov["never_tested"] == 0 and cov["tested_more_than_once"] == 0
    assert cov["n_folds"] == len(folds)


@pytest.mark.parametrize("name, kw", [p for p in ALL if p.values[0] == "subject"])
def test_subject_folds_share_no_subject(name, kw):
    ds, folds = folds_of(name, kw)
    for fold in folds:
        assert fold_leakage(ds, fold)["test"]["shared_subjects"] == 0
        train_s, val_s = set(ds.subjects[fold.train]), set(ds.subjects[fold.val])
        assert not train_s & val_s, f"{fold.id}: a validation subject is also in training"
        assert fold.info["test_subjects"] == sorted(set(ds.subjects[fold.test]))


@pytest.mark.parametrize("name, kw", ALL)
def test_describe_and_config(name, kw):
    protocol = protocol_for(name, kw)
    line = protocol.describe()
    assert line and "\n" not in line
    config = protocol.config()
    assert config["name"] == name
    json.dumps(config)


# ---------------------------------------------------------------------------- random shapes
@st.composite
def lab_shapes(draw):
    n_classes = draw(st.integers(2, 5))
    n_subjects = draw(st.integers(5, 14))
    counts = np.array(draw(st.lists(st.lists(st.integers(2, 5), min_size=n_classes, max_size=n_classes),
                                    min_size=n_subjects, max_size=n_subjects)))
    folds = draw(st.integers(2, min(6, n_subjects)))
    seed = draw(st.integers(0, 2**16))
    return counts, folds, seed


SHAPES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SHAPES
@given(lab_shapes(), st.sampled_from(["kfold", "subject"]))
def test_exhaustive_protocols_on_random_shapes(shape, name):
    counts, k, seed = shape
    classes = ("angry", "disgust", "fear", "happy", "sad")[: counts.shape[1]]
    ds = make_dataset("shape", counts, classes=classes, seed=seed)
    protocol = make_protocol(name, folds=k, seed=seed, val_size=0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # rare-class warnings are expected on some shapes
        folds = list(protocol.split(ds))
    assert len(folds) == protocol.get_n_splits(ds) == k
    for fold in folds:
        assert_disjoint_fold(ds, fold)
        assert len(np.union1d(np.union1d(fold.train, fold.val), fold.test)) == len(ds)
        if name == "subject":
            subj = ds.subjects
            assert not set(subj[fold.test]) & (set(subj[fold.train]) | set(subj[fold.val]))
            assert not set(subj[fold.train]) & set(subj[fold.val])
    cov = coverage(ds, folds)
    assert cov["never_tested"] == cov["tested_more_than_once"] == 0


@SHAPES
@given(lab_shapes(), st.sampled_from([0.1, 0.2, 0.3]))
def test_holdout_sizes_on_random_shapes(shape, test_size):
    counts, repeats, seed = shape
    classes = ("angry", "disgust", "fear", "happy", "sad")[: counts.shape[1]]
    ds = make_dataset("shape", counts, classes=classes, seed=seed)
    protocol = RandomHoldout(test_size=test_size, val_size=0.2, repeats=repeats, seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        folds = list(protocol.split(ds))
    assert [f.id for f in folds] == [f"holdout-r{r}" for r in range(repeats)]
    for fold in folds:
        assert_disjoint_fold(ds, fold)
        assert abs(len(fold.test) - test_size * len(ds)) <= 1
        assert abs(len(fold.val) - 0.2 * (len(ds) - len(fold.test))) <= 1


# ---------------------------------------------------------------------------- random hold-out
def test_random_three_way_sizes():
    ds = lab(n_subjects=20)
    fold = next(RandomHoldout(train_size=0.7, val_size=0.1, test_size=0.2).split(ds))
    n = len(ds)
    assert abs(len(fold.test) - 0.2 * n) <= 1
    assert abs(len(fold.val) - 0.1 * n) <= 1
    assert abs(len(fold.train) - 0.7 * n) <= 2


def test_random_sizes_must_add_up():
    with pytest.raises(ConfigError, match="add up to 1"):
        RandomHoldout(train_size=0.6, val_size=0.2, test_size=0.1)


def test_random_holdout_leaks_subjects_and_the_report_says_so():
    ds = lab()
    fold = next(RandomHoldout(test_size=0.3).split(ds))
    assert fold_leakage(ds, fold)["test"]["shared_subjects"] > 0


# ---------------------------------------------------------------------------- kfold / subject specifics
def test_kfold_ids_and_rare_class_warning():
    ds = lab()
    assert [f.id for f in StratifiedKFoldProtocol(folds=3).split(ds)] == ["fold-00", "fold-01", "fold-02"]
    rare = make_dataset("rare", np.array([[20, 20, 20, 3]]))
    with pytest.warns(UserWarning, match=r"folds=5 but rare has 3 samples of surprise: .*; use --folds 3"):
        list(StratifiedKFoldProtocol(folds=5).split(rare))


def test_subject_protocol_refuses_dataset_without_subjects():
    with pytest.raises(DataError, match="wild has no subject ids; use --protocol kfold or random"):
        list(SubjectKFold().split(wild()))


def test_subject_protocol_refuses_fewer_subjects_than_folds():
    with pytest.raises(DataError, match=r"folds=10 but lab has 8 subjects; use --folds 8"):
        list(SubjectKFold(folds=10).split(lab(n_subjects=8)))
    with pytest.raises(DataError, match="at least 3 subjects"):
        list(SubjectKFold(folds="loso").split(lab(n_subjects=2)))


def test_subject_protocol_warns_when_a_class_has_fewer_subjects_than_folds():
    counts = np.random.default_rng(0).integers(2, 5, (10, 4))
    counts[4:, 0] = 0  # only 4 subjects show anger
    with pytest.warns(UserWarning, match="folds=5 but lab has 4 subjects with angry; use --folds 4"):
        list(SubjectKFold(folds=5).split(make_dataset("lab", counts)))


def test_loso_has_one_fold_per_subject():
    ds = lab(n_subjects=6)
    folds = list(SubjectKFold(folds="loso").split(ds))
    assert [f.info["test_subjects"] for f in folds] == [[f"s{i:02d}"] for i in range(6)]
    assert SubjectKFold(folds="loso").get_n_splits(ds) == 6


def test_too_little_data_for_a_stratified_holdout_names_the_fix():
    tiny = make_dataset("tiny", classes=LAB_CLASSES, per_class=2, subjects=False)
    # Each class has one sample in a fold's training part: no --val-size helps, a larger training part does.
    with pytest.raises(DataError, match=r"stratified 10% validation set for fold-00 .*: no class has two samples; "
                                        r"use a dataset with more samples per class or fewer --folds"):
        list(StratifiedKFoldProtocol(folds=2).split(tiny))
    with pytest.raises(DataError, match=r"stratified 10% test set for holdout-r0 .*: 1 held-out samples cannot "
                                        r"cover 4 classes; use a larger --test-size"):
        with pytest.warns(UserWarning, match="may hold none of it"):
            list(RandomHoldout().split(tiny))
    with pytest.raises(DataError, match="use a larger --target-fraction"):
        list(CrossDataset(target_fractions=(0.01,)).split(merge_domains(wild(), lab())))


# ---------------------------------------------------------------------------- official split
def test_official_fer2013_split():
    ds = with_official_split(lab())
    split = ds.meta["split"]
    [fold] = OfficialSplit().split(ds)
    assert fold.id == "official"
    assert np.array_equal(fold.train, np.flatnonzero(split == "Training"))
    assert np.array_equal(fold.val, np.flatnonzero(split == "PublicTest"))
    assert np.array_equal(fold.test, np.flatnonzero(split == "PrivateTest"))


def test_official_train_test_only_carves_validation_from_train():
    ds = lab()
    split = np.where(np.arange(len(ds)) % 5 == 0, "test", "train")
    ds = FERDataset(ds.name, ds.images, ds.labels, ds.files, ds.subjects, meta={"split": split})
    [fold] = OfficialSplit(val_size=0.2).split(ds)
    assert np.array_equal(fold.test, np.flatnonzero(split == "test"))
    assert np.array_equal(np.union1d(fold.train, fold.val), np.flatnonzero(split == "train"))
    assert fold.info["val_from"] == "20% of train"


def test_official_custom_names_and_errors():
    ds = lab()
    split = np.array(["a", "b", "c"])[np.arange(len(ds)) % 3]
    ds = FERDataset(ds.name, ds.images, ds.labels, ds.files, ds.subjects, meta={"split": split})
    [fold] = OfficialSplit(train="a", val="B", test=("c",)).split(ds)
    assert np.array_equal(fold.val, np.flatnonzero(split == "b"))
    with pytest.raises(DataError, match=r"split value\(s\) .a., .b., .c. are none of \(train: training/train; val"):
        list(OfficialSplit().split(ds))
    with pytest.raises(DataError, match="lab has no official split"):
        list(OfficialSplit().split(lab()))
    with pytest.raises(ConfigError, match="two roles"):
        OfficialSplit(train="test")


# ---------------------------------------------------------------------------- cross-dataset
def test_merge_domains_aligns_labels_resizes_and_marks_domains():
    source, target = wild(), lab()
    merged = merge_domains(source, target)
    # The source keeps its classes (disgust has no target sample); the target's surprise is left out, and said so.
    assert merged.class_names == source.class_names == ["angry", "disgust", "happy", "sad"]
    assert merged.info["left_out"] == {"lab": ["surprise"]}
    assert merged.image_size == source.image_size
    domain = merged.meta["domain"]
    assert set(domain) == {"source", "target"}
    assert np.count_nonzero(domain == "source") == 4 * 30
    assert set(merged.labels[domain == "target"]) <= {c for c in source.classes}
    # The source has no subject ids: they stay unknown ("") instead of the target's ids being lost.
    assert set(merged.subjects[domain == "source"]) == {""}
    assert all(s.startswith("lab/") for s in merged.subjects[domain == "target"])


def test_merge_domains_needs_two_shared_classes():
    source = make_dataset("a", classes=("angry", "disgust"), per_class=5, subjects=False)
    target = make_dataset("b", classes=("angry", "happy"), per_class=5, subjects=False)
    with pytest.raises(DataError, match="share 1 classes.*--labels"):
        merge_domains(source, target)


def test_cross_folds_variants_tests_and_finetuning():
    merged = merge_domains(wild(), lab())
    folds = list(CrossDataset(repeats=2, target_fractions=(1.0, 0.5)).split(merged))
    by_id = {f.id: f for f in folds}
    base = ["zero-shot", "target-only", "fusion", "ft-fc", "ft-fc+cl", "ft-all"]
    halves = [f"{v}@0.5" for v in base[1:]]
    assert [f.id for f in folds] == base + halves + [f"{v}-r1" for v in base + halves]
    domain = merged.meta["domain"]
    for r, suffix in enumerate(["", "-r1"]):
        group = [f for f in folds if f.info["repeat"] == r]
        first = group[0]
        assert first.id == f"zero-shot{suffix}" and first.info["strategy"] == "BL"
        for f in group:  # the same two test sets for every strategy of a repeat
            assert f.tests.keys() == {"source", "target"}
            assert all(np.array_equal(f.tests[k], first.tests[k]) for k in f.tests)
            assert set(domain[f.tests["source"]]) == {"source"} and set(domain[f.tests["target"]]) == {"target"}
            assert f.variant == f.id.removesuffix(suffix)
            if f.variant.startswith("ft-"):
                assert f.families == ("deep",) and f.init_from == f"zero-shot{suffix}"
            else:
                assert f.families == ("classical", "deep") and f.init_from is None
        zs, to, fu = (by_id[f"{v}{suffix}"] for v in ("zero-shot", "target-only", "fusion"))
        assert set(domain[zs.train]) == set(domain[zs.val]) == {"source"}
        assert set(domain[to.train]) == set(domain[to.val]) == {"target"}
        assert np.array_equal(fu.train, np.union1d(zs.train, to.train))
        assert np.array_equal(fu.val, np.union1d(zs.val, to.val))
        assert {by_id[f"ft-{v}{suffix}"].finetune for v in ("fc", "fc+cl", "all")} == {"head", "head+last", "all"}
        assert {by_id[f"ft-{v}{suffix}"].info["strategy"] for v in ("fc", "fc+cl", "all")} == {"FC", "FC+CL", "RE"}
        # Fractions: a stratified half of the same target training data; validation unchanged.
        half = by_id[f"target-only@0.5{suffix}"]
        assert np.all(np.isin(half.train, to.train)) and abs(len(half.train) - len(to.train) / 2) <= 1
        assert np.array_equal(half.val, to.val) and by_id[f"ft-all@0.5{suffix}"].init_from == f"zero-shot{suffix}"
        for c in np.unique(merged.labels[to.train]):
            assert abs(np.mean(merged.labels[half.train] == c) - np.mean(merged.labels[to.train] == c)) <= 0.05
        # The target (with subject ids) is split by subject; the unknown source ids are not counted.
        for f in group:
            leak = fold_leakage(merged, f)
            assert leak["target"]["shared_subjects"] == 0 and leak["source"]["shared_subjects"] == 0


def test_cross_variants_keep_the_named_strategies_and_the_source_model_with_the_same_indices():
    merged = merge_domains(wild(), lab())
    every = {f.id: f for f in CrossDataset(target_fractions=(1.0, 0.5)).split(merged)}
    some = CrossDataset(target_fractions=(1.0, 0.5), variants="SCRATCH,ft-all")
    folds = list(some.split(merged))
    assert [f.id for f in folds] == ["zero-shot", "target-only", "ft-all", "target-only@0.5", "ft-all@0.5"]
    assert some.get_n_splits(merged) == len(folds) and CrossDataset().get_n_splits(merged) == 6
    for f in folds:
        assert np.array_equal(f.train, every[f.id].train) and np.array_equal(f.val, every[f.id].val)
    assert some.config()["variants"] == ("zero-shot", "target-only", "ft-all")
    assert "variants" not in CrossDataset().config()  # the identity of runs made before the option
    with pytest.raises(ConfigError, match="ft-everything: not a cross-dataset variant; give some of zero-shot \\(BL\\)"):
        CrossDataset(variants="ft-all,ft-everything")


def test_cross_needs_a_merged_dataset():
    with pytest.raises(DataError, match="merge_domains"):
        list(CrossDataset().split(lab()))


# ---------------------------------------------------------------------------- leakage report
def test_fold_leakage_counts_constructed_overlaps():
    ds = lab(n_subjects=4)
    images = ds.images.copy()
    subj = ds.subjects
    train = np.flatnonzero(np.isin(subj, ["s00", "s01"]))
    val = np.flatnonzero(subj == "s02")[:2]
    test = np.concatenate([np.flatnonzero(subj == "s03"), np.flatnonzero(subj == "s02")[2:4]])
    images[test[0]] = images[train[0]]  # two test images byte-identical to training / validation images
    images[test[1]] = images[val[1]]
    ds = FERDataset(ds.name, images, ds.labels, ds.files, subj)
    report = fold_leakage(ds, Fold("f", train, val, {"test": test}))["test"]
    assert report == {"n_test": len(test), "shared_subjects": 1, "duplicate_images": 2,
                      "train_test_overlap": 0, "val_test_overlap": 0}
    leaky = Fold("g", train, np.concatenate([val, test[-1:]]), {"test": np.concatenate([test, train[:3]])})
    report = fold_leakage(ds, leaky)["test"]
    assert (report["train_test_overlap"], report["val_test_overlap"], report["shared_subjects"]) == (3, 1, 2)


def test_fold_leakage_without_subjects_and_coverage():
    ds = wild(per_class=3)
    fold = Fold("f", np.arange(6), np.arange(6, 8), {"test": np.arange(8, 12)})
    assert fold_leakage(ds, fold)["test"]["shared_subjects"] is None
    folds = [Fold("a", [], [], {"test": np.array([0, 1])}), Fold("b", [], [], {"test": np.array([1, 2])})]
    assert coverage(ds, folds) == {"n_samples": 12, "n_folds": 2, "never_tested": 9, "tested_more_than_once": 1}


# ---------------------------------------------------------------------------- make_protocol
def test_make_protocol_maps_generic_folds():
    assert make_protocol("random", folds="3").repeats == 3
    assert make_protocol("cross", folds=2, target_fractions="0.5,1.0").config()["target_fractions"] == (0.5, 1.0)
    assert make_protocol("kfold", folds="5").folds == 5
    assert make_protocol("subject", folds="LOSO").folds == "loso"
    assert make_protocol("official", folds=1).get_n_splits() == 1
    assert make_protocol("random", test_size=0.3, val_size=0.2, seed=7).config() == {
        "name": "random", "test_size": 0.3, "val_size": 0.2, "train_size": None, "repeats": 1, "seed": 7}
    assert make_protocol("random", train_size=0.6, val_size=0.2, test_size=0.2).train_size == 0.6
    assert make_protocol("cross").test_size == 0.2 and make_protocol("random").test_size == 0.1


@pytest.mark.parametrize("name, kw, match", [
    ("kfold", {"folds": "loso"}, "needs --protocol subject"),
    ("random", {"folds": "loso"}, "needs --protocol subject"),
    ("kfold", {"folds": 1}, "at least 2 folds"),
    ("subject", {"folds": 0}, "at least 2 folds"),
    ("random", {"folds": 0}, "at least 1 repeat"),
    ("kfold", {"folds": "ten"}, "whole number"),
    ("official", {"folds": 5}, "exactly one fold"),
    ("kfold", {"test_size": 0.2}, "--test-size does not apply"),
    ("official", {"test_size": 0.2}, "--test-size does not apply"),
    ("subject", {"target_fractions": "0.5"}, "only to --protocol cross"),
    ("cross", {"target_fractions": "0,1"}, r"in \(0, 1\]"),
    ("cross", {"target_fractions": "half"}, "comma-separated"),
    ("random", {"test_size": 1.5}, "--test-size must be a fraction"),
    ("random", {"val_size": -0.1}, "--val-size must be a fraction"),
    ("random", {"bogus": 1}, "has no option bogus"),
    ("kfol", {}, "did you mean 'kfold'"),
    ("zero-shot", {}, "bench eval MODEL"),
])
def test_make_protocol_rejects_nonsense(name, kw, match):
    with pytest.raises(ConfigError, match=match):
        make_protocol(name, **kw)


# ---------------------------------------------------------------------------- zero-shot (bench eval)
def test_zero_shot_scores_the_test_sets_of_the_protocol_it_names():
    ds = with_official_split(lab())
    inner = make_protocol("kfold", folds=4, seed=2)
    within = PROTOCOLS.get("zero-shot")(split="test", within=inner.config())
    theirs, ours = list(inner.split(ds)), list(within.split(ds))
    assert [f.id for f in ours] == [f.id for f in theirs]
    assert all(np.array_equal(a.test, b.test) and a.variant == "zero-shot" for a, b in zip(ours, theirs))
    official = next(PROTOCOLS.get("zero-shot")(split="test").split(ds))
    assert official.id == "official" and np.array_equal(official.test, next(OfficialSplit().split(ds)).test)
    assert next(PROTOCOLS.get("zero-shot")().split(ds)).test.tolist() == list(range(len(ds)))


@pytest.mark.parametrize("kw, match", [
    ({"split": "some"}, "--split must be one of all, test"),
    ({"split": "all", "within": {"name": "kfold"}}, "needs --split test"),
    ({"split": "test", "within": {"name": "cross"}}, "cannot choose the test folds"),
    ({"split": "test", "within": {"name": "zero-shot"}}, "cannot choose the test folds"),
])
def test_zero_shot_rejects_nonsense(kw, match):
    with pytest.raises(ConfigError, match=match):
        PROTOCOLS.get("zero-shot")(**kw)


def test_zero_shot_test_split_needs_an_official_split():
    with pytest.raises(DataError, match="no official test split; pass --split all"):
        list(PROTOCOLS.get("zero-shot")(split="test").split(lab()))
