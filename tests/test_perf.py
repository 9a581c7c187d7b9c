"""`bench perf scale` and `bench perf run`: what they measure and how they report it (never timed assertions)."""

import json

import numpy as np
import pytest

from baselines.backends import BACKENDS
from bench.cli import main
from bench.core.errors import ConfigError
from bench.perf.scaling import growth, scale_benchmark, scale_data

INTELEX = BACKENDS["intelex"].installed()


def test_growth_slopes_read_linear_and_quadratic_stages():
    rows = [{"model": "m", "n": n, "fit_s": 1e-3 * n, "split_s": 1e-6 * n * n, "features_s": None,
             "peak_extra_mb": 5.0} for n in (1000, 4000, 16000)]
    by_stage = {g["stage"]: g for g in growth(rows)}
    assert {g["backend"] for g in growth(rows)} == {"-"}
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


def test_an_interrupted_scale_benchmark_resumes_from_its_json(tmp_path, capfd, monkeypatch):
    import bench.perf.scaling as scaling

    out = tmp_path / "scale.json"
    argv = ["perf", "scale", "--model", "lbp-knn", "--sizes", "300", "--accel", "sklearn", "--plot", str(tmp_path / "s.png"),
            "--json", str(out), "--resume"]
    assert main(argv) == 0
    (first,) = json.loads(out.read_text())["points"]
    assert "timing lbp-knn [sklearn] at n=300" in capfd.readouterr().err
    # The next, larger benchmark keeps that point and measures only the new size; the file holds the whole
    # curve after every point, so a kill between points loses none.
    saved: list[int] = []
    real = scaling._run_child

    def child(cmd, log):
        saved.append(len(json.loads(out.read_text())["points"]))
        return real(cmd, log)

    monkeypatch.setattr(scaling, "_run_child", child)
    assert main([*argv[:5], "300,400", *argv[6:]]) == 0
    err = capfd.readouterr().err
    assert "lbp-knn [sklearn] n=300: measured before, kept" in err and "at n=300" not in err
    data = json.loads(out.read_text())
    assert data["points"][0] == first and [p["n"] for p in data["points"]] == [300, 400] and saved == [1]
    assert {g["stage"] for g in data["growth"]} >= {"fit_s", "predict_s"}
    assert main(["perf", "scale", "--sizes", "300", "--resume"]) == 2
    out.write_text("[1, 2]")
    assert main(argv) == 2
    assert "is not a 'bench perf scale --json' file" in capfd.readouterr().err


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


def test_scale_benchmark_times_each_backend_side_by_side(tmp_path, capfd):
    backends = ("sklearn", "intelex") if INTELEX else ("sklearn",)
    rows = scale_benchmark(["hog-rbf"], [300], None, backends=backends)
    assert [(r["backend"], r["fitted_by"]) for r in rows] == [(b, b) for b in backends]
    assert {(g["model"], g["backend"]) for g in growth(rows)} == {("hog-rbf", b) for b in backends}
    err = capfd.readouterr().err
    assert "timing hog-rbf [sklearn] at n=300" in err and "extracting features" in err  # said as it goes


def test_scale_data_samples_the_training_part_of_a_dataset():
    ds = scale_data("synth-wild:n=500", 250)
    assert len(ds) == 250
    full = scale_data("synth-wild:n=500", 500)
    share = np.bincount(ds.labels, minlength=8)[:7] / 250
    np.testing.assert_allclose(share, np.bincount(full.labels, minlength=8)[:7] / 500, atol=0.01)  # stratified
    assert len(scale_data("synth-wild", 300)) == 300  # a synthetic family is generated at the size
    with pytest.raises(ConfigError, match="500 training images, fewer than the 800"):
        scale_data("synth-wild:n=500", 800)


def test_perf_classical_times_the_default_set_under_each_backend(tmp_path, capsys):
    out = tmp_path / "classical.json"
    assert main(["perf", "classical", "--dataset", "synth-lab:n=160,subjects=8", "--model", "hog-rbf,hog-svm",
                 "--accel", "sklearn,auto", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    backends = ["sklearn", "intelex"] if INTELEX else ["sklearn"]
    assert result["backends"] == backends and result["n_fit"] == 128 and result["testset"] == "test"
    assert {(u["model"], u["backend"]) for u in result["units"]} == {(m, b) for m in ("hog-rbf", "hog-svm")
                                                                     for b in backends}
    table = {r["pipeline"]: r for r in result["table"]}
    assert set(table) == {"hog-rbf", "hog-svm"} and all(0 <= table[m]["acc % sklearn"] <= 100 for m in table)
    if INTELEX:
        assert table["hog-rbf"]["fitted by (intelex)"] == "intelex" and table["hog-svm"]["fitted by (intelex)"] == "sklearn"
        assert table["hog-svm"]["agree % intelex"] == 100  # the same liblinear fit under both
    assert [t["backend"] for t in result["totals"]] == backends
    captured = capsys.readouterr()
    assert "| pipeline" in captured.out and "total s" in captured.out
    assert "hog-rbf [sklearn]: features + fit on 128 images" in captured.err


def test_perf_classical_without_the_backend_says_how_to_install_it(capsys, monkeypatch):
    monkeypatch.setattr("baselines.backends.Backend.installed", lambda self: self.name == "sklearn")
    assert main(["perf", "classical", "--dataset", "synth-lab:n=160", "--accel", "sklearn,intelex"]) == 2
    assert "scikit-learn-intelex not installed: pip install" in capsys.readouterr().err


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


def test_a_scale_plot_of_many_curves_draws_one_fit_line_per_model_and_backend(tmp_path):
    import matplotlib.pyplot as plt

    from bench.perf import scaling

    rows = [{"model": f"m{i}", "backend": b, "n": n, "fit_s": 1e-3 * n * (i + 1), "peak_extra_mb": 0.01 * n}
            for i in range(6) for b in ("sklearn", "intelex") for n in (1000, 4000)]
    drawn = []
    real = plt.Figure.savefig
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(plt.Figure, "savefig", lambda fig, *a, **k: (drawn.append(fig), real(fig, *a, **k))[1])
        scaling._plot(rows, str(tmp_path / "many.png"))
    (fig,) = drawn
    times, memory = fig.axes
    assert len(times.lines) == 12 + 1 and len(memory.lines) == 12  # + the linear reference
    assert [t.get_text() for t in fig.legends[0].get_texts()][-3:] == ["[sklearn]", "[intelex]", "linear"]
    assert (tmp_path / "many.png").stat().st_size > 0
