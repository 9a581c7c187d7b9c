"""The real-data front page: compact tables, the inflation and memory-integrity figures and the reproduction
table, all drawn by ``bench leaderboard`` from run folders on imported (non-synthetic) data."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.cli import main
from bench.core.emotions import INDEX
from bench.data import store
from bench.data.dataset import FERDataset
from bench.results.folder import RunFolder

README = """# project

<!-- real-data:start -->
<!-- real-data:end -->

<!-- reproduction:start -->
<!-- reproduction:end -->

<!-- leaderboard:start -->
<!-- leaderboard:end -->
"""

SPEC = """
[[row]]
paper = "900"
claim = "hog-svm on posers"
reported = "88.00"
own = ["posers_random.toml"]
subject = ["posers_subject.toml"]
model = "hog-svm"

[[row]]
paper = "900"
claim = "what fine-tuning costs on the source"
reported = "-20 to -30"
own = ["faces_to_posers.toml", "posers_subject.toml"]  # pooled over files, as paper 002's targets
same_protocol = "subject-disjoint already"
model = "cnn-999"
stand_in = "cnn-000-m1"
variant = ["ft-fc", "ft-all"]
testset = "source"
minus = "zero-shot"

[[row]]
paper = "901"
claim = "on a dataset we lack"
reported = "99"
cannot = "that dataset is not here"
"""


def _posers(name: str, n_subjects: int = 6, per: int = 4, seed: int = 0) -> FERDataset:
    """Faces whose class shows as a bright bar, with a per-person pattern on top (so people can leak)."""
    rng = np.random.default_rng(seed)
    classes = [INDEX[c] for c in ("angry", "happy", "sad")]
    labels = np.tile(np.repeat(classes, per), n_subjects)
    subjects = np.repeat([f"p{i}" for i in range(n_subjects)], len(classes) * per)
    person = {s: rng.normal(0, 30, (48, 48)) for s in set(subjects)}
    images = np.stack([np.clip(90 + person[s] + rng.normal(0, 40, (48, 48)), 0, 255) for s in subjects])
    for i, c in enumerate(labels):
        images[i, 8 + 12 * classes.index(c):16 + 12 * classes.index(c), 10:38] += 45
    return FERDataset(name, np.clip(images, 0, 255).astype(np.uint8), labels,
                      [f"{name}/{i}.png" for i in range(len(labels))], subjects=subjects)


def _faces(name: str = "faces") -> FERDataset:
    ds = _posers(name, n_subjects=12, per=5, seed=4)
    split = np.array(["Training", "Training", "Training", "PublicTest", "PrivateTest"] * (len(ds) // 5))
    return FERDataset(name, ds.images, ds.labels, ds.files, meta={"split": split})


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("project")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.setenv("FER_BENCH_DATA_DIR", str(root / "data"))
        for ds in (_posers("posers"), _faces()):
            store.save_dataset(ds, store.data_dir(), {"importer": "test"})
        (root / "experiments").mkdir()
        (root / "leaderboard").mkdir()
        (root / "leaderboard" / "reproduction.toml").write_text(SPEC)
        for name, text in {
            "posers_random.toml": 'protocol = "random"\ndataset = "posers"\nmodels = ["hog-svm"]\ntest_size = 0.25\n',
            "posers_subject.toml": 'protocol = "subject"\ndataset = "posers"\nmodels = ["hog-svm"]\nfolds = 3\n',
            "faces_to_posers.toml": 'protocol = "cross"\nsource = "faces"\ntarget = "posers"\nmodels = ["cnn-999"]\n'
                                    'target_split_by = "subject"\n',
        }.items():
            (root / "experiments" / name).write_text(text)
        common = ["--no-progress", "--ensemble", "none", "--threads", "1"]
        for argv in (["--config", "experiments/posers_random.toml", "--model", "hog-svm,lbp-svm"],
                     ["--protocol", "kfold", "--dataset", "posers", "--folds", "3", "--model", "hog-svm,lbp-svm"],
                     ["--config", "experiments/posers_subject.toml", "--model", "hog-svm,lbp-svm"],
                     ["--config", "experiments/faces_to_posers.toml", "--model", "cnn-000-m1", "--epochs", "1"]):
            assert main(["run", *argv, *common]) == 0
        (root / "README.md").write_text(README)
        assert main(["leaderboard"]) == 0
        yield root


def _units(root: Path, run: str) -> pd.DataFrame:
    return RunFolder(root / "results" / run).metrics_frame()


def test_the_figures_are_drawn_from_the_real_runs_and_named_in_the_readme(project):
    figures = sorted(p.name for p in (project / "leaderboard" / "figures").iterdir())
    assert figures == ["inflation-posers.svg", "memory-faces-posers.svg"]
    svg = (project / "leaderboard" / "figures" / "inflation-posers.svg").read_text()
    assert "hog-svm" in svg and "lbp-svm" in svg and "random 75/25" in svg and "subject-disjoint 3-fold" in svg
    assert "<dc:date>" not in svg  # no timestamp: the same runs give the same bytes
    readme = (project / "README.md").read_text()
    assert "![posers: accuracy under each protocol](leaderboard/figures/inflation-posers.svg)" in readme
    assert "![faces -> posers: memory integrity](leaderboard/figures/memory-faces-posers.svg)" in readme


def test_the_inflation_table_holds_each_protocols_mean_accuracy(project):
    readme = (project / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith("| hog-svm ") and "random 75/25" not in line
               and line.count("|") == 6)
    cells = [c.strip() for c in row.strip("|").split("|")]
    runs = {p.name: _units(project, p.name) for p in (project / "results").iterdir()}
    rnd = next(f for n, f in runs.items() if n.startswith("random"))
    kf = next(f for n, f in runs.items() if n.startswith("kfold"))
    sub = next(f for n, f in runs.items() if n.startswith("subject"))
    means = [100 * f[(f.model == "hog-svm") & (f.status == "ok")].accuracy.mean() for f in (rnd, kf, sub)]
    assert cells[1:4] == [f"{m:.1f}" for m in means]
    assert cells[4] == f"{means[0] - means[2]:+.1f}"


def test_the_reproduction_table_reads_its_numbers_from_the_runs(project):
    readme = (project / "README.md").read_text()
    block = readme.split("<!-- reproduction:start -->")[1].split("<!-- reproduction:end -->")[0]
    rows = {r.split("|")[2].strip(): [c.strip() for c in r.strip().strip("|").split("|")]
            for r in block.splitlines() if r.startswith("| 90")}
    rnd = _units(project, next(p.name for p in (project / "results").iterdir() if p.name.startswith("random")))
    sub = _units(project, next(p.name for p in (project / "results").iterdir() if p.name.startswith("subject")))
    own = rows["hog-svm on posers"]
    assert own[2] == "88.00"
    assert own[3] == f"{100 * rnd[rnd.model == 'hog-svm'].accuracy.mean():.1f}"
    assert own[4] == f"{100 * sub[sub.model == 'hog-svm'].accuracy.mean():.1f}"
    assert "[posers_random.toml](experiments/posers_random.toml)" in own[5]
    cross = _units(project, next(p.name for p in (project / "results").iterdir() if p.name.startswith("cross")))
    src = cross[(cross.testset == "source") & (cross.status == "ok")].set_index("variant").accuracy
    costs = sorted((100 * (src[v] - src["zero-shot"]) for v in ("ft-fc", "ft-all")), reverse=True)
    cost = rows["what fine-tuning costs on the source"]
    assert re.fullmatch(r"[-+]\d+\.\d( to [-+]\d+\.\d)? \(cnn-000-m1 in place of cnn-999; --epochs 1\)", cost[3]), cost
    assert cost[3].startswith(f"{costs[0]:+.1f}")
    assert cost[4] == "same as the paper's protocol (subject-disjoint already)"
    assert rows["on a dataset we lack"][3] == "cannot be reproduced here: that dataset is not here"


def test_check_compares_what_a_figure_shows_not_how_matplotlib_wrote_it(project, monkeypatch, capsys):
    monkeypatch.chdir(project)
    assert main(["leaderboard", "--check"]) == 0
    figure = project / "leaderboard" / "figures" / "inflation-posers.svg"
    kept = figure.read_bytes()
    (digest,) = re.findall(rb"fer-bench figure data ([0-9a-f]{16})", kept)
    assert b"<path " in kept
    try:
        figure.write_bytes(kept.replace(b"<path ", b"<path  "))  # other bytes for the same data (another matplotlib)
        assert main(["leaderboard", "--check"]) == 0
        figure.write_bytes(kept.replace(digest, b"0" * 16))  # drawn from other data
        assert main(["leaderboard", "--check"]) == 1
        assert "inflation-posers.svg" in capsys.readouterr().out
        figure.unlink()
        assert main(["leaderboard", "--check"]) == 1
    finally:
        figure.write_bytes(kept)


def test_the_runs_table_states_each_runs_recipe_and_time(project):
    readme = (project / "README.md").read_text()
    cross = next(line for line in readme.splitlines() if line.startswith("| [cross-"))
    assert "`bench run --config experiments/faces_to_posers.toml --model cnn-000-m1 --epochs 1" in cross
    assert "| default, 1 epoch |" in cross and "(units' wall time)" in cross
    units = [json.loads(p.read_text()) for p in (project / "results").glob("cross-*/units/*/*.json")]
    minutes = round(sum(u["wall_s"] for u in units) / 60)
    assert (f"{minutes} min" if minutes else "s (units' wall time)") in cross
    assert readme.split("<!-- leaderboard:start -->")[1].split("<!-- leaderboard:end -->")[0] == "\n"  # none synthetic


def test_a_cell_names_the_source_run_of_fine_tuned_models_and_its_overrides(tmp_path):
    from leaderboard.reproduction import Row, Table

    source = (RunFolder(tmp_path / "src10"), {"command": ["bench", "run", "--config", "experiments/a.toml",
                                                          "--epochs", "10", "--save-models"], "config": {}},
              pd.DataFrame())
    frame = pd.DataFrame({"status": ["ok"], "model": ["m"], "testset": ["target"], "variant": ["ft-all"],
                          "accuracy": [0.5]})
    cross = (RunFolder(tmp_path / "x"), {"command": ["bench", "run", "--config", "experiments/b.toml",
                                                     "--source-run", "results/src10"],
                                         "config": {"protocol": "cross", "source_run": "results/src10"}}, frame)
    row = Row(paper="1", claim="c", reported="1", own=["b.toml"], model=["m"], variant=["ft-all"])
    assert Table([source, cross]).cell(row, row.own) == "50.0 (source models of src10, --epochs 10)"
    assert Table([cross]).cell(row, row.own) == "50.0 (source models of src10)"


def test_the_memory_chart_shows_one_target_split_never_an_average_of_two(tmp_path):
    from leaderboard.figures import memory_data

    def cross(name: str, by: str, ratios: list[float], acc: float, n_models: int = 1,
              variants: tuple[str, ...] = ("zero-shot", "ft-all")):
        manifest = {"config": {"protocol": "cross"},
                    "data": {"source": {"name": "faces"}, "target": {"name": "posers"}},
                    "protocol": {"params": {"target_split": ratios, "target_split_by": by, "seed": 0}}}
        frame = pd.DataFrame([{"status": "ok", "model": f"m{i}", "variant": v, "testset": t, "accuracy": acc}
                              for i in range(n_models) for v in variants for t in ("source", "target")])
        return RunFolder(tmp_path / name), manifest, frame

    random_split = cross("r", "random", [0.6, 0.2, 0.2], 0.9, n_models=3)
    subject_split = cross("s", "subject", [0.6, 0.2, 0.2], 0.5)
    (frame,) = memory_data([random_split, subject_split]).values()
    assert set(frame.accuracy) == {50.0} and set(frame.split) == {"60/20/20 % train/val/test, subject-disjoint"}
    (frame,) = memory_data([random_split]).values()  # without a subject-disjoint run, the one there is
    assert set(frame.accuracy) == {90.0} and frame.split.iloc[0].endswith("random (people shared)")
    # Two subject-disjoint splits: the one that shows every strategy, though the other has more models.
    every = cross("e", "subject", [0.615, 0.07, 0.315], 0.7,
                  variants=("zero-shot", "target-only", "fusion", "ft-fc", "ft-fc+cl", "ft-all"))
    (frame,) = memory_data([cross("s3", "subject", [0.6, 0.2, 0.2], 0.5, n_models=4), every]).values()
    assert set(frame.accuracy) == {70.0} and len(set(frame.strategy)) == 6


def test_target_fraction_columns_follow_the_protocols_order_after_the_full_data_ones(tmp_path):
    from leaderboard.build import variant_tables
    from protocols.cross import CrossDataset

    variants = ["zero-shot", "target-only", "fusion", "ft-all"]
    frame = pd.DataFrame([{"status": "ok", "model": "m", "family": "classical", "n_val": 1, "variant": v + f,
                           "testset": t, "accuracy": 0.5}
                          for v in variants for f in ("", "@0.5", "@0.25") if not (f and v == "zero-shot")
                          for t in ("source", "target")])
    run = (RunFolder(tmp_path / "x"), {"run_id": "x", "config": {"protocol": "cross", "target": "b"}}, frame)
    head = next(line for line in variant_tables([run], CrossDataset).splitlines() if line.startswith("| rank"))
    columns = [c.strip().split(" ")[0] for c in head.strip("|").split("|")][2:-1]
    assert columns == ["zero-shot", "target-only", "fusion", "ft-all", "target-only@0.25", "fusion@0.25",
                       "ft-all@0.25", "target-only@0.5", "fusion@0.5", "ft-all@0.5"]


def test_the_runs_table_counts_each_training_once_and_hides_out():
    from types import SimpleNamespace

    from leaderboard.front import _runs_table

    units = [{"family": "deep", "wall_s": 600.0, "fit_time_s": 1500.0},  # resumed: 15 min of epochs in all
             {"family": "classical", "wall_s": 300.0, "fit_time_s": 200.0},
             {"family": "ensemble", "fit_time_s": 1700.0}]  # its members' time, counted once, above
    command = ["bench", "run", "--out", "/scratch/x", "--name", "r", "--out=/y", "--threads", "1"]
    run = (SimpleNamespace(read_units=lambda: units), {"run_id": "r", "command": command, "config": {}}, None)
    table = _runs_table([run])
    assert "| 30 min (units' wall time) |" in table
    assert "| `bench run --name r --threads 1` |" in table  # the row links the folder: no --out
