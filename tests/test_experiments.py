"""Experiments a researcher can write down: per-model settings, experiment files, paper presets that follow the
papers, training without a validation split, the official split's variants and the cross-dataset protocol's
per-domain splits, several targets and reused source models."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.cli import main
from bench.cli.experiment import read_experiment
from bench.core.emotions import INDEX
from bench.core.errors import ConfigError, DataError
from bench.core.models import MODELS, resolve_models, split_settings
from bench.data import store
from bench.data.dataset import FERDataset
from bench.results.folder import RunFolder
from protocols import make_protocol
from protocols.cross import merge_domains

ROOT = Path(__file__).resolve().parents[1]
LAB = "synth-lab:subjects=12,n=144"


def _run(tmp_path, *argv) -> int:
    return main(["run", "--out", str(tmp_path), "--no-progress", "--ensemble", "none", *map(str, argv)])


def _units(folder: Path) -> dict[tuple[str, str], dict]:
    return {(u["model"], u["fold"]): u for u in RunFolder(folder).read_units()}


# ---------------------------------------------------------------------- per-model settings
def test_settings_parser_keeps_settings_with_their_model():
    assert split_settings("hog-svm,standard-cnn:input_size=224,kernel=5,cnn-003") == [
        ("hog-svm", {}), ("standard-cnn", {"input_size": 224, "kernel": 5}), ("cnn-003", {})]
    assert split_settings("efficientnet-b0:top_layers=7,finetune_lr=1e-5,amp=false,stem=none") == [
        ("efficientnet-b0", {"top_layers": 7, "finetune_lr": 1e-5, "amp": False, "stem": None})]
    with pytest.raises(ConfigError, match="not KEY=VALUE"):
        split_settings("hog-svm:C")


def test_classical_settings_take_short_or_full_keys_and_make_their_own_row():
    plain, short, full = resolve_models("hog-svm,hog-svm:C=0.1,orientations=12,hog-svm:svm__C=0.5")
    assert (plain.name, short.name, full.name) == ("hog-svm", "hog-svm:C=0.1,orientations=12", "hog-svm:svm__C=0.5")
    params = short.build(seed=0).get_params()
    assert params["svm__C"] == 0.1 and params["features__orientations"] == 12
    assert short.base == "hog-svm" and short.build_params == {"svm__C": 0.1, "features__orientations": 12}
    with pytest.raises(ConfigError, match="has no setting 'nonsense'; its settings: C,"):
        resolve_models("hog-svm:nonsense=1")
    with pytest.raises(ConfigError, match="should be float"):
        resolve_models("hog-svm:C=abc")


def test_deep_settings_reach_the_training_config_and_the_architecture():
    (spec,) = resolve_models("standard-cnn:input_size=224,kernel=5,rotation=12,beta2=0.99")
    est = spec.build(seed=0, device="cpu")
    cfg = est.train_config()
    assert (cfg.input_size, cfg.arch_params, cfg.augment.rotation, cfg.beta2) == (224, {"kernel": 5}, 12, 0.99)
    (vgg,) = resolve_models("vgg16-scratch:finetune=head,top_layers=7,finetune_lr=1e-5")
    assert vgg.build_params == {"finetune": "head", "top_layers": 7, "finetune_lr": 1e-5}
    for bad, match in (("cnn-003:nonsense=1", "cnn-003 has no setting 'nonsense'; its settings: .*batch_size"),
                       ("cnn-003:optimizer=rmsprop", "cnn-003: optimizer='rmsprop' is not one of"),
                       ("standard-cnn:kernel=five", "should be int"), ("cnn-003:lr=-1", "learning rates")):
        with pytest.raises(ConfigError, match=match):
            resolve_models(bad)


def test_settings_run_end_to_end_and_the_manifest_records_them(tmp_path, capsys):
    assert _run(tmp_path, "--protocol", "random", "--dataset", LAB, "--model", "standard-cnn:input_size=64,kernel=5",
                "--epochs", "1", "--name", "s") == 0
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert manifest["models"] == ["standard-cnn:input_size=64,kernel=5"]
    settings = manifest["model_settings"]["standard-cnn:input_size=64,kernel=5"]
    assert settings["settings"] == {"input_size": 64, "kernel": 5}
    assert settings["resolved"] == {"input_size": 64, "arch_params": {"kernel": 5}}
    (unit,) = _units(tmp_path / "s").values()
    assert unit["status"] == "ok" and len(unit["history"]) == 1
    capsys.readouterr()
    assert _run(tmp_path, "--protocol", "random", "--dataset", LAB, "--model", "cnn-003:nonsense=1") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "its settings:" in err and "lr" in err


# ---------------------------------------------------------------------- experiment files
def test_experiment_file_runs_and_the_command_line_wins(tmp_path):
    exp = tmp_path / "e.toml"
    exp.write_text(f'# two pipelines, one with a setting\nprotocol = "kfold"\ndataset = "{LAB}"\nfolds = 2\n'
                   'models = ["hog-svm", {name = "lbp-svm", settings = {C = 0.01}}]\n')
    out = tmp_path / "out"
    assert _run(out, "--config", exp) == 0
    assert _run(out, "--config", exp, "--seed", 1) == 0
    first, second = sorted(out.iterdir())
    assert second.name.endswith("-s1")
    manifest = json.loads((second / "manifest.json").read_text())
    assert manifest["experiment"]["seed"] == 1 and manifest["experiment"]["models"] == "hog-svm,lbp-svm:C=0.01"
    assert {m for m, _ in _units(first)} == {"hog-svm", "lbp-svm:C=0.01"}
    # A run folder's manifest repeats the run (here: resumes it, every unit already done).
    assert _run(out, "--config", second / "manifest.json") == 0
    assert sorted(out.iterdir()) == [first, second]


@pytest.mark.parametrize("text,match", [
    ('protocl = "kfold"', "unknown key\\(s\\) protocl"),
    ("seed = 'one'", "seed = 'one': expected a int"),
    ("models = [{nme = 'x'}]", "is not a name or a table"),
    ("protocol = ", "not valid TOML"),
])
def test_bad_experiment_files_are_one_line(tmp_path, text, match):
    exp = tmp_path / "bad.toml"
    exp.write_text(text + "\n")
    with pytest.raises(ConfigError, match=match):
        read_experiment(exp)


SHIPPED = sorted((ROOT / "experiments").glob("*.toml"))


def test_experiment_files_are_shipped_for_the_papers():
    names = {p.stem for p in SHIPPED}
    assert {"paper000_table5_fer2013", "paper000_table6_fer2013_to_jaffe", "paper002_fig6_fer2013_to_jaffe",
            "paper003_baseline_fer2013"} <= names
    for path in SHIPPED:
        assert path.read_text().startswith("#"), f"{path.name} must say in a comment what the paper reports"


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_experiment_resolves(path):
    from bench.run.setup import check_models

    values = read_experiment(path)
    specs = resolve_models(values.get("model", "all"))
    check_models(specs, values.get("preset", "default"))
    make_protocol(values.get("protocol", "cross"), folds=values.get("folds"), test_size=values.get("test_size"),
                  val_size=values.get("val_size", 0.1), options={
                      flag: (param, values[dest]) for flag, param, dest in (
                          ("--official-split", "variant", "official_split"),
                          ("--source-split", "source_split", "source_split"),
                          ("--target-split", "target_split", "target_split"),
                          ("--target-split-by", "target_split_by", "target_split_by"),
                          ("--variants", "variants", "variants")) if dest in values})


# ---------------------------------------------------------------------- paper presets
# What each paper states, setting by setting (everything else is fer-bench's choice and marked so).
PAPER_STATES = {
    ("cnn-000-m1", "paper"): {"optimizer": "adam", "epochs": 75, "input_size": 48, "finetune": "all"},
    ("standard-cnn", "paper"): {"optimizer": "adam", "lr": 5e-4, "beta1": 0.9, "beta2": 0.009, "epochs": 50},
    ("standard-cnn", "paper004"): {"epochs": 50, "arch_params": {"kernel": 5}},
    ("vgg16", "paper"): {"optimizer": "adam", "lr": 5e-4, "beta2": 0.009, "epochs": 50, "input_size": 224,
                         "finetune": "all"},
    ("resnet18", "paper001"): {"optimizer": "adam", "lr": 5e-4, "epochs": 50, "input_size": 224},
    ("cnn-002", "paper"): {"input_size": 48},
    ("cnn-003", "paper"): {"optimizer": "adam", "lr": 1e-4, "epochs": 50, "batch_size": 64, "patience": None,
                           "monitor": "val_acc", "restore_best": True, "augment.flip": True, "augment.shift": 0.1},
    ("vgg19-bn", "paper"): {"optimizer": "sgd", "momentum": 0.9, "lr": 0.01, "batch_size": 64, "epochs": 250,
                            "patience": 15, "min_delta": 0.001, "monitor": "val_acc", "step_start": 80,
                            "tta": "tencrop", "augment.crop_fraction": 44 / 48, "augment.flip": True,
                            "dropout": 0.5, "needs_validation": True},
    ("resnet18", "paper"): {"optimizer": "sgd", "momentum": 0.9, "lr": 0.01, "batch_size": 64, "epochs": 250,
                            "patience": 15, "tta": "tencrop"},
    ("resnet18-scratch", "paper"): {"optimizer": "sgd", "lr": 0.01, "stem": "cifar"},
    ("efficientnet-b0", "paper"): {"optimizer": "adam", "head_lr": 1e-3, "finetune_lr": 1e-5, "epochs": 100,
                                   "head_epochs": 50, "finetune": "two-phase", "input_size": 224,
                                   "augment.rotation": 10.0, "augment.scale": 0.1, "augment.flip": True},
}


def _flat(values: dict) -> dict:
    out = {}
    for key, value in values.items():
        if key == "augment":
            out.update({f"augment.{k}": v for k, v in value.items()})
        else:
            out[key] = value
    return out


@pytest.mark.parametrize("model,preset", list(PAPER_STATES), ids=[f"{m}-{p}" for m, p in PAPER_STATES])
def test_paper_presets_follow_what_the_papers_state(model, preset):
    facts = MODELS.get(model).describe()
    values = _flat(facts["presets"][preset])
    ours = set(facts["our choices"][preset])
    for key, expected in PAPER_STATES[(model, preset)].items():
        assert values[key] == pytest.approx(expected) if isinstance(expected, float) else values[key] == expected, key
        if key != "stem":  # the stem follows from the paper's network, not a training setting it states
            assert key not in ours, f"{model} {preset}: {key} is the paper's, not our choice"
    assert ours and ours <= set(values), f"{model} {preset}: the settings the paper leaves open are marked as ours"


def test_show_marks_our_choices_and_notes(capsys):
    assert main(["models", "--show", "vgg19-bn"]) == 0
    out = capsys.readouterr().out
    presets = out.split("presets (", 1)[1].splitlines()
    row = {line.split("|")[1].strip(): line for line in presets if line.startswith("| ")}
    assert "sgd" in row["optimizer"] and "*" not in row["optimizer"].split("|")[3]
    assert "*" in row["weight_decay"].split("|")[3] and "*" in row["grad_clip"].split("|")[3]
    assert "gray input" in out


def test_a_paper_preset_a_model_lacks_is_refused(tmp_path, capsys):
    capsys.readouterr()
    assert _run(tmp_path, "--protocol", "random", "--dataset", LAB, "--model", "cnn-003", "--preset", "paper004") == 2
    assert "cnn-003 have no such preset" in capsys.readouterr().err


# ---------------------------------------------------------------------- training without a validation split
def test_val_size_zero_trains_fixed_epochs_and_the_leaderboard_says_so(tmp_path, capsys):
    assert _run(tmp_path, "--protocol", "random", "--dataset", LAB, "--model", "cnn-003", "--epochs", "3",
                "--val-size", "0", "--name", "nv") == 0
    (unit,) = _units(tmp_path / "nv").values()
    assert unit["n_val"] == 0 and len(unit["history"]) == 3
    assert all(h["val_acc"] is None for h in unit["history"])
    assert "cnn-003 (3 epochs; no val: fixed epochs)" in (tmp_path / "nv" / "leaderboard.md").read_text()
    assert _run(tmp_path, "--protocol", "random", "--dataset", LAB, "--model", "resnet18-scratch", "--preset",
                "paper", "--val-size", "0") == 2
    assert "stops early on a validation split" in capsys.readouterr().err


# ---------------------------------------------------------------------- the official split's variants
def _fer_like(n_per: int = 40) -> FERDataset:
    rng = np.random.default_rng(0)
    labels = np.tile(np.array([0, 3, 4, 6]), n_per)
    split = np.array(["Training", "Training", "Training", "PublicTest", "PrivateTest"] * (len(labels) // 5))
    return FERDataset("ferlike", rng.integers(0, 256, (len(labels), 16, 16), dtype=np.uint8), labels,
                      [f"f{i}" for i in range(len(labels))], meta={"split": split})


def test_official_paper003_variant_tests_on_both_test_splits_and_carves_validation():
    ds = _fer_like()
    standard = next(make_protocol("official").split(ds))
    paper003 = next(make_protocol("official", val_size=0.2, options={"--official-split": ("variant", "paper003")})
                    .split(ds))
    split = ds.meta["split"]
    assert set(split[standard.test]) == {"PrivateTest"} and set(split[standard.val]) == {"PublicTest"}
    assert set(split[paper003.test]) == {"PublicTest", "PrivateTest"}
    assert set(split[paper003.val]) == set(split[paper003.train]) == {"Training"}
    assert abs(len(paper003.val) - 0.2 * np.sum(split == "Training")) <= 1
    with pytest.raises(ConfigError, match="--official-split does not apply to --protocol kfold"):
        make_protocol("kfold", options={"--official-split": ("variant", "paper003")})


# ---------------------------------------------------------------------- cross-dataset
def _save(ds: FERDataset) -> str:
    store.save_dataset(ds, store.data_dir(), {"importer": "test"})
    return ds.name


def _lab_like(name: str, classes: tuple[str, ...], n_subjects: int = 10, per: int = 3, size: int = 16,
              seed: int = 0) -> FERDataset:
    rng = np.random.default_rng(seed)
    labels = np.tile(np.repeat([INDEX[c] for c in classes], per), n_subjects)
    subjects = np.repeat([f"p{i}" for i in range(n_subjects)], len(classes) * per)
    return FERDataset(name, rng.integers(0, 256, (len(labels), size, size), dtype=np.uint8), labels,
                      [f"{name}/{i}" for i in range(len(labels))], subjects=subjects)


def test_cross_source_uses_its_official_split_and_targets_their_ratios():
    merged = merge_domains(_fer_like(), {"a": _lab_like("a", ("angry", "happy", "sad", "neutral"))})
    folds = list(make_protocol("cross", options={"--target-split": ("target_split", "0.6/0.2/0.2")}).split(merged))
    zs = folds[0]
    split, domain = merged.meta["split"], merged.meta["domain"]
    assert zs.info["source_split"] == "official split"
    assert set(split[zs.train]) == {"Training"} and set(split[zs.tests["source"]]) == {"PrivateTest"}
    target = folds[1]
    n_target = np.sum(domain == "target")
    assert abs(len(target.tests["target"]) - 0.2 * n_target) <= 6 and abs(len(target.train) - 0.6 * n_target) <= 6
    subjects = merged.subjects
    assert not set(subjects[target.train]) & set(subjects[target.tests["target"]])  # subject-disjoint by default
    random = list(make_protocol("cross", options={"--target-split": ("target_split", "0.6/0.2/0.2"),
                                                  "--target-split-by": ("target_split_by", "random")}).split(merged))
    assert set(subjects[random[1].train]) & set(subjects[random[1].tests["target"]])  # people shared, as papers did


@pytest.mark.parametrize("options,match", [
    ({"--target-split": ("target_split", "0.6/0.3/0.2")}, "adds up to 1.1, not 1"),
    ({"--target-split": ("target_split", "0.6/0.4")}, "needs three fractions"),
    ({"--source-split": ("source_split", "a/b/c")}, "is not TRAIN/VAL/TEST"),
    ({"--target-split-by": ("target_split_by", "face")}, "is not one of subject, random"),
])
def test_bad_split_options_name_the_fix(options, match):
    with pytest.raises(ConfigError, match=match):
        make_protocol("cross", options=options)


def test_a_fraction_that_empties_a_class_says_so():
    merged = merge_domains(_lab_like("s", ("angry", "happy", "sad"), seed=1),
                           {"t": _lab_like("t", ("angry", "happy", "sad"), n_subjects=3, per=1)})
    with pytest.raises(DataError, match="cannot hold out"):
        list(make_protocol("cross", options={"--target-split": ("target_split", "0.9/0.05/0.05"),
                                             "--target-split-by": ("target_split_by", "random")}).split(merged))


def test_unalignable_label_sets_name_the_classes_and_labels():
    with pytest.raises(DataError, match="share 1 classes.*--labels"):
        merge_domains(_lab_like("s", ("angry", "happy")), {"t": _lab_like("t", ("angry", "contempt"))})


def test_several_targets_train_the_source_once_and_the_leaderboard_shows_each_and_the_mean(tmp_path, monkeypatch):
    import bench.run.engine as engine

    src = _save(_lab_like("src", ("angry", "happy", "sad", "neutral"), n_subjects=12, seed=3))
    ta = _save(_lab_like("ta", ("angry", "happy", "sad", "neutral"), seed=4))
    tb = _save(_lab_like("tb", ("angry", "happy", "sad", "contempt"), seed=5))  # contempt: left out
    fits = []
    real = engine.run_unit
    monkeypatch.setattr(engine, "run_unit", lambda spec, fold, *a, **k: (fits.append(fold.id), real(spec, fold, *a, **k))[1])
    assert _run(tmp_path, "--protocol", "cross", "--source", src, "--target", f"{ta},{tb}", "--model", "hog-svm",
                "--target-split", "0.6/0.2/0.2", "--name", "multi") == 0
    assert fits.count("zero-shot") == 1 and "ta.target-only" in fits and "tb.fusion" in fits
    units = _units(tmp_path / "multi")
    assert set(units[("hog-svm", "zero-shot")]["metrics"]) == {"source", f"target:{ta}", f"target:{tb}"}
    assert units[("hog-svm", "tb.target-only")]["variant"] == "target-only:tb"
    manifest = json.loads((tmp_path / "multi" / "manifest.json").read_text())
    assert set(manifest["data"]) == {"source", f"target:{ta}", f"target:{tb}"}
    assert manifest["left_out"] == {ta: [], tb: ["contempt"]}
    board = (tmp_path / "multi" / "leaderboard.md").read_text()
    assert f"#### target {ta}" in board and "mean over the 2 targets" in board
    assert f"#### target {tb} (scored on the classes it shares with the source; left out: contempt)" in board
    frame = pd.read_csv(tmp_path / "multi" / "metrics.csv")
    assert set(frame[frame.testset == f"target:{tb}"].fold) == {"zero-shot", "tb.target-only", "tb.fusion"}


def test_variants_run_only_the_named_strategies_and_the_experiment_records_them(tmp_path):
    src = _save(_lab_like("vsrc", ("angry", "happy", "sad", "neutral"), n_subjects=12, seed=3))
    tgt = _save(_lab_like("vtgt", ("angry", "happy", "sad", "neutral"), seed=4))
    common = ("--protocol", "cross", "--source", src, "--target", tgt, "--model", "hog-svm", "--name", "v")
    assert _run(tmp_path, *common, "--variants", "SCRATCH") == 0
    assert set(_units(tmp_path / "v")) == {("hog-svm", "zero-shot"), ("hog-svm", "target-only")}
    manifest = json.loads((tmp_path / "v" / "manifest.json").read_text())
    assert manifest["experiment"]["variants"] == "SCRATCH"
    assert manifest["protocol"]["params"]["variants"] == ["zero-shot", "target-only"]
    assert "zero-shot, target-only; target fractions" in (tmp_path / "v" / "leaderboard.md").read_text()
    # The same folder with every strategy is another run: refused, not mixed.
    assert _run(tmp_path, *common) == 2
    assert _run(tmp_path, *common, "--variants", "fusion,nonsense") == 2


def test_the_source_datasets_official_run_serves_as_the_source_of_cross_runs(tmp_path):
    """Train once on the source's official split (--save-models), then adapt to targets without training the
    source again: the zero-shot rows score the official run's models, classical and deep."""
    src = _save(dataclasses.replace(_fer_like(n_per=60), name="fersrc"))
    tgt = _save(_lab_like("tgt4", ("angry", "happy", "sad", "neutral"), seed=9))
    models = ("--model", "hog-svm,cnn-000-m1", "--epochs", "1")
    assert _run(tmp_path, "--protocol", "official", "--dataset", src, *models, "--name", "off", "--save-models") == 0
    assert _run(tmp_path, "--protocol", "cross", "--source", src, "--target", tgt, *models, "--name", "x",
                "--source-run", tmp_path / "off") == 0
    official, cross = _units(tmp_path / "off"), _units(tmp_path / "x")
    for model in ("hog-svm", "cnn-000-m1"):
        zero_shot = cross[(model, "zero-shot")]
        assert zero_shot["source_run"] == str(tmp_path / "off") and zero_shot["fit_time_s"] == 0.0
        assert zero_shot["metrics"]["source"] == official[(model, "official")]["metrics"]["test"]
    assert cross[("cnn-000-m1", "ft-all")]["status"] == "ok"
    # Another validation carve of the source is another fold: refused, naming the fix.
    assert _run(tmp_path, "--protocol", "cross", "--source", src, "--target", tgt, *models, "--name", "y",
                "--source-split", "0.7/0.1/0.2", "--source-run", tmp_path / "off") == 2


def test_source_run_reuses_the_trained_source_models(tmp_path, monkeypatch):
    import bench.run.engine as engine

    src = _save(_lab_like("src2", ("angry", "happy", "sad"), n_subjects=12, seed=6))
    tgt = _save(_lab_like("tgt2", ("angry", "happy", "sad"), seed=7))
    common = ("--protocol", "cross", "--source", src, "--target", tgt, "--model", "cnn-000-m1", "--epochs", "1")
    assert _run(tmp_path, *common, "--name", "first") == 0
    fitted = []
    real = engine.fit_and_score
    monkeypatch.setattr(engine, "fit_and_score", lambda spec, est, ds, fit_idx, *a, **k: (
        fitted.append(len(fit_idx)), real(spec, est, ds, fit_idx, *a, **k))[1])
    assert _run(tmp_path, *common, "--name", "second", "--source-run", tmp_path / "first") == 0
    first, second = _units(tmp_path / "first"), _units(tmp_path / "second")
    assert second[("cnn-000-m1", "zero-shot")]["source_run"] == str(tmp_path / "first")
    assert second[("cnn-000-m1", "zero-shot")]["metrics"]["source"] == first[("cnn-000-m1", "zero-shot")]["metrics"]["source"]
    n_source_train = first[("cnn-000-m1", "zero-shot")]["n_train"]
    assert n_source_train not in fitted  # the source model was not trained again
    other = _save(_lab_like("src3", ("angry", "happy", "sad"), n_subjects=12, seed=8))
    assert main(["run", "--out", str(tmp_path), "--no-progress", "--protocol", "cross", "--source", other, "--target",
                 tgt, "--model", "cnn-000-m1", "--epochs", "1", "--source-run", str(tmp_path / "first")]) == 2
