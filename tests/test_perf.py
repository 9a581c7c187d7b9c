"""`bench perf scale` and `bench perf run`: what they measure and how they report it (never timed assertions)."""

import json

import pytest

from bench.cli import main
from bench.perf.scaling import growth, scale_benchmark


def test_growth_slopes_read_linear_and_quadratic_stages():
    rows = [{"model": "m", "n": n, "fit_s": 1e-3 * n, "split_s": 1e-6 * n * n, "features_s": None,
             "peak_extra_mb": 5.0} for n in (1000, 4000, 16000)]
    by_stage = {g["stage"]: g for g in growth(rows)}
    assert by_stage["fit_s"]["overall"] == pytest.approx(1.0)
    assert by_stage["split_s"]["1000->4000"] == pytest.approx(2.0)
    assert by_stage["peak_extra_mb"]["overall"] == pytest.approx(0.0, abs=1e-9)
    assert "features_s" not in by_stage  # deep models have no feature stage


def test_scale_benchmark_measures_each_stage_in_a_child_process(tmp_path):
    plot = tmp_path / "scale.png"
    rows = scale_benchmark(["lbp-knn"], [600, 300], str(plot))
    assert [r["n"] for r in rows] == [300, 600]
    for r in rows:
        assert r["model"] == "lbp-knn" and r["feature_dtype"] == "float32"
        assert r["fit_s"] == pytest.approx(r["features_s"] + r["classifier_s"])
        assert r["split_s"] > 0 and r["predict_s"] > 0 and r["images_mb"] == pytest.approx(r["n"] * 48 * 48 / 2**20)
        assert r["peak_extra_mb"] is None or r["peak_extra_mb"] >= 0
    assert plot.stat().st_size > 0


def test_perf_cli_reports_bad_arguments_in_one_line(capsys):
    assert main(["perf", "scale", "--sizes", "1k,4k"]) == 2
    assert main(["perf", "scale", "--model", "hog-svn", "--sizes", "400"]) == 2
    assert main(["perf", "scale", "--sizes", "40"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and "--sizes" in err[0] and "hog-svm" in err[1] and "300" in err[2]


def test_perf_run_times_a_run_and_writes_json(tmp_path, capsys):
    out = tmp_path / "run.json"
    args = "--protocol kfold --folds 2 --dataset synth-lab:subjects=12,n=240 --model hog-svm"
    assert main(["perf", "run", "--args", args, "--json", str(out)]) == 0
    (row,) = json.loads(out.read_text())
    assert row["command"] == "bench run " + args and row["wall_s"] > 0 and row["peak_rss_mb"] > 50
    assert row["target_wall_s"] == 900 and row["target_rss_mb"] == 4096
    assert main(["perf", "run", "--args", "--protocol kfold --dataset no-such-data"]) == 2
    assert "no-such-data" in capsys.readouterr().err


def test_perf_parallel_times_one_process_and_a_local_cluster_on_the_same_run(tmp_path):
    out = tmp_path / "parallel.json"
    assert main(["perf", "parallel", "--dataset", "synth-lab:subjects=12,n=144", "--model", "lbp-logreg",
                 "--folds", "2", "--json", str(out)]) == 0
    seq, par = json.loads(out.read_text())
    assert seq["executor"] == "one process" and par["executor"] == "local Dask cluster" and par["workers"] == 2
    assert seq["command"] == par["command"] and "--model lbp-logreg --folds 2" in seq["command"]
    assert seq["units"] == par["units"] == 2 and par["same_metrics"] is True
    assert seq["wall_s"] > 0 and par["wall_s"] > 0 and par["target"] == 1.6
    assert par["speedup"] == pytest.approx(seq["wall_s"] / par["wall_s"], rel=0.05, abs=0.02)
    assert par["speedup_ok"] == (par["speedup"] >= 1.6)
    assert main(["perf", "parallel", "--workers", "1"]) == 2
