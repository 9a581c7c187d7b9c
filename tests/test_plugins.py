"""Your own models without a fork: ``--include FILE`` and the ``fer_bench.models`` entry point register through the
public ``bench.register_model``; a file that raises, or a name that clashes with a built-in, is one line.

Each case runs in a fresh process, so what it registers never leaks into this session's registry.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "my_models.py"


def bench(*argv: str, cwd: Path, extra_path: Path | None = None) -> subprocess.CompletedProcess:
    path = os.pathsep.join(str(p) for p in (extra_path, ROOT) if p)
    env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "bench", *argv], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=900)


def test_models_lists_an_included_files_models(tmp_path):
    proc = bench("models", "--include", str(EXAMPLE), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = {line.split("|")[1].strip(): line for line in proc.stdout.splitlines() if line.startswith("| ")}
    assert "classical" in rows["edges-svm"] and "deep" in rows["cnn-tiny"] and "hog-svm" in rows


def test_an_included_model_runs_under_a_protocol(tmp_path):
    proc = bench("run", "--include", str(EXAMPLE), "--model", "edges-svm,cnn-tiny", "--protocol", "kfold",
                 "--dataset", "synth-lab:subjects=12,n=144", "--folds", "3", "--epochs", "1", "--out", "out",
                 "--no-progress", "--ensemble", "none", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (folder,) = (tmp_path / "out").iterdir()
    units = [json.loads(p.read_text()) for p in folder.glob("units/*/*.json")]
    assert sorted({u["model"] for u in units}) == ["cnn-tiny", "edges-svm"]
    assert len(units) == 6 and all(u["status"] == "ok" for u in units)


def test_an_include_that_raises_is_one_line_naming_it(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import bench\nraise RuntimeError('no GPU on this laptop')\n")
    proc = bench("models", "--include", str(bad), cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert str(bad) in proc.stderr and "RuntimeError: no GPU on this laptop" in proc.stderr


def test_a_name_that_clashes_with_a_builtin_is_refused(tmp_path):
    clash = tmp_path / "clash.py"
    clash.write_text("from bench import register_model\n\n"
                     "@register_model('classical', search_space=lambda t: {})\n"
                     "def hog_svm(seed=0):\n    '''mine'''\n")
    proc = bench("models", "--include", str(clash), cwd=tmp_path)
    assert proc.returncode == 2 and "model 'hog-svm' is registered twice" in proc.stderr
    assert str(clash) in proc.stderr


def test_an_installed_packages_entry_point_registers_its_models(tmp_path):
    site = tmp_path / "site"
    (site / "fakeplugin-0.1.dist-info").mkdir(parents=True)
    (site / "fakeplugin-0.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: fakeplugin\n"
                                                                 "Version: 0.1\n")
    (site / "fakeplugin-0.1.dist-info" / "entry_points.txt").write_text("[fer_bench.models]\nfake = fakeplugin_models\n")
    (site / "fakeplugin_models.py").write_text(
        "from sklearn.dummy import DummyClassifier\nfrom bench import register_model\n\n"
        "@register_model('classical', search_space=lambda t: {'strategy': t.suggest_categorical('s', ['prior'])})\n"
        "def majority_vote(seed=0, **params):\n    '''Always the most frequent class (a floor to beat).'''\n"
        "    return DummyClassifier(strategy='prior').set_params(**params)\n")
    proc = bench("models", cwd=tmp_path, extra_path=site)
    assert proc.returncode == 0, proc.stderr
    assert "majority-vote" in proc.stdout and "a floor to beat" in proc.stdout
