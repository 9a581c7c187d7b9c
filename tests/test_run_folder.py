"""What a run folder promises: it holds one run (same settings, same data) or is refused, a run never writes
outside it or into a folder that is not a run, one run at a time fits its units, and a damaged file costs only
itself (readers skip and name it; its unit runs again)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import fixtures_layouts as fl
import pandas as pd
import pytest

from bench.cli import main
from bench.results.folder import RunFolder

LAB = "synth-lab:n=240,subjects=12"
FAST = ["--protocol", "random", "--dataset", LAB, "--model", "pixels-nb"]


def _run(capsys, out: Path, *args: str) -> tuple[int, str]:
    code = main(["run", "--out", str(out), "--no-progress", "--ensemble", "none", *args])
    return code, capsys.readouterr().err


def _one_line_error(code: int, err: str) -> str:
    assert code == 2, err
    line = [ln for ln in err.splitlines() if ln.startswith("error: ")]
    assert len(line) == 1 and "Traceback" not in err, err
    return line[0]


# ---------------------------------------------------------------------- item 1: names stay in their folder
@pytest.mark.parametrize("name", ["../../d", "../d", "ABSOLUTE", ".", "..", ".hidden", "a/b", "x:y", ""])
def test_a_run_name_is_a_plain_name(capsys, tmp_path, name):
    name = str(tmp_path / "abs") if name == "ABSOLUTE" else name
    out = tmp_path / "out" / "runs"
    victim = tmp_path / "d"
    victim.mkdir()
    (victim / "metrics.csv").write_text("precious\n")
    line = _one_line_error(*_run(capsys, out, *FAST, "--name", name))
    assert "--name" in line and "plain name" in line
    assert (victim / "metrics.csv").read_text() == "precious\n"
    assert not out.exists() and not (tmp_path / "abs").exists()


def test_an_existing_folder_that_is_not_a_run_is_never_reused(capsys, tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "metrics.csv").write_text("precious\n")
    line = _one_line_error(*_run(capsys, tmp_path, *FAST, "--name", "mine"))
    assert "not a fer-bench run folder" in line and "--name" in line
    assert sorted(p.name for p in foreign.iterdir()) == ["metrics.csv"]
    # A manifest.json of something else does not make it a run folder either.
    (foreign / "manifest.json").write_text('{"name": "my web app", "version": 3}')
    line = _one_line_error(*_run(capsys, tmp_path, *FAST, "--name", "mine"))
    assert "not a fer-bench run manifest" in line
    assert (foreign / "metrics.csv").read_text() == "precious\n"


def test_out_pointing_at_a_file_is_one_line(capsys, tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("x")
    line = _one_line_error(*_run(capsys, target, *FAST))
    assert "--out" in line and "is a file" in line


def test_a_folder_bench_tune_wrote_is_resumed_by_bench_run(capsys, tmp_path):
    tune = ["tune", "--model", "pixels-nb", "--protocol", "random", "--dataset", LAB, "--trials", "1",
            "--out", str(tmp_path), "--name", "shared"]
    assert main(tune) == 0
    capsys.readouterr()
    code, err = _run(capsys, tmp_path, *FAST, "--tune", "1", "--name", "shared")
    assert code == 0, err
    manifest = RunFolder(tmp_path / "shared").read_manifest()
    assert manifest["command"][:2] == ["bench", "tune"] and manifest["resumed"][0]["command"][1] == "run"


# ---------------------------------------------------------------------- item 3: data changed under the name
def test_a_changed_dataset_refuses_the_resume(capsys, tmp_path):
    layout = fl.ck48(tmp_path / "ck")
    assert main(["data", "import", "ck48", str(layout.root), "--name", "ckr"]) == 0
    args = ["--protocol", "random", "--test-size", "0.3", "--val-size", "0.3", "--dataset", "ckr", "--model",
            "pixels-nb", "--name", "r"]
    code, err = _run(capsys, tmp_path, *args)
    assert code == 0, err
    units = sorted((tmp_path / "r" / "units").rglob("*.json"))
    before = {p: p.read_bytes() for p in units}
    assert main(["data", "import", "ck48", str(layout.root), "--name", "ckr", "--size", "32", "--force"]) == 0
    line = _one_line_error(*_run(capsys, tmp_path, *args))
    assert "other data" in line and "'ckr'" in line and "--name" in line
    assert {p: p.read_bytes() for p in sorted((tmp_path / "r" / "units").rglob("*.json"))} == before
    code, err = _run(capsys, tmp_path, *args[:-1], "fresh")  # the fix the message names
    assert code == 0, err


# ---------------------------------------------------------------------- item 12: resolved settings decide
def test_spelling_out_defaults_resumes_and_the_commands_are_kept(capsys, tmp_path):
    code, err = _run(capsys, tmp_path, *FAST, "--name", "r")
    assert code == 0, err
    code, err = _run(capsys, tmp_path, *FAST, "--name", "r", "--test-size", "0.1", "--folds", "1",
                     "--val-size", "0.1", "--device", "cpu")
    assert code == 0, err
    assert "1 units were already done" in err
    manifest = RunFolder(tmp_path / "r").read_manifest()
    assert "--test-size" not in manifest["command"]  # the first command stays the run's command
    assert [r["command"][-2:] for r in manifest["resumed"]] == [["--device", "cpu"]]
    # A real difference is named by its resolved setting, never by the command or the device.
    line = _one_line_error(*_run(capsys, tmp_path, *FAST, "--name", "r", "--test-size", "0.2", "--device", "cpu"))
    assert "protocol.test_size 0.1 then, 0.2 now" in line
    assert "command" not in line and "device" not in line


def test_a_legacy_manifest_resumes_on_its_resolved_settings(capsys, tmp_path):
    code, err = _run(capsys, tmp_path, *FAST, "--name", "r")
    assert code == 0, err
    path = tmp_path / "r" / "manifest.json"
    legacy = json.loads(path.read_text())
    for key in ("identity", "kind", "resumed"):
        legacy.pop(key, None)
    path.write_text(json.dumps(legacy))
    code, err = _run(capsys, tmp_path, *FAST, "--name", "r", "--test-size", "0.1")
    assert code == 0, err
    line = _one_line_error(*_run(capsys, tmp_path, *FAST, "--name", "r", "--seed", "1"))
    assert "seed 0 then, 1 now" in line


# ---------------------------------------------------------------------- concurrent runs: the folder's lock
def test_a_second_run_on_a_busy_folder_is_refused_until_the_first_ends(capsys, tmp_path):
    holder = RunFolder(tmp_path / "r")
    holder.lock("pid 4242 on elsewhere: bench run --protocol random")
    line = _one_line_error(*_run(capsys, tmp_path, *FAST, "--name", "r"))
    assert "in use by another run (pid 4242 on elsewhere: bench run --protocol random)" in line
    assert not (tmp_path / "r" / "units").exists()
    holder.release()
    code, err = _run(capsys, tmp_path, *FAST, "--name", "r")
    assert code == 0, err
    code, err = _run(capsys, tmp_path, *FAST, "--name", "r")  # the finished run let go of the folder
    assert code == 0, err


def test_the_lock_of_a_killed_run_is_released_by_the_kernel(tmp_path):
    script = textwrap.dedent(f"""
        import time
        from bench.results.folder import RunFolder
        run = RunFolder({str(tmp_path / "r")!r})
        run.lock("the doomed run")
        print("held", flush=True)
        time.sleep(120)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[1])
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(Exception, match="in use by another run \\(the doomed run\\)"):
            RunFolder(tmp_path / "r").lock("second")
        proc.kill()  # kill -9: no clean-up runs in the holder
        proc.wait(timeout=30)
        second = RunFolder(tmp_path / "r")
        second.lock("second")
        second.release()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


# ---------------------------------------------------------------------- item 9: a damaged unit record
def test_a_unit_record_without_metrics_is_named_skipped_and_redone(capsys, tmp_path):
    code, err = _run(capsys, tmp_path, "--protocol", "random", "--dataset", LAB, "--model", "pixels-nb,pixels-knn",
                     "--name", "r")
    assert code == 0, err
    unit = tmp_path / "r" / "units" / "pixels-nb" / "holdout-r0.json"
    record = json.loads(unit.read_text())
    unit.write_text(json.dumps({k: v for k, v in record.items() if k != "metrics"}))

    with pytest.warns(UserWarning, match=r"skipped unit record .*pixels-nb/holdout-r0.json: it has no metrics"):
        frame = RunFolder(tmp_path / "r").metrics_frame()
    assert set(frame.model) == {"pixels-knn"}
    with pytest.warns(UserWarning, match="skipped unit record .*pixels-nb/holdout-r0.json"):
        assert main(["leaderboard", str(tmp_path / "r"), "--output", str(tmp_path / "lb.md"), "--readme", ""]) == 0
    assert "pixels-knn" in (tmp_path / "lb.md").read_text()
    with pytest.warns(UserWarning, match="skipped unit record .*pixels-nb/holdout-r0.json"):
        assert main(["report", str(tmp_path / "r")]) == 0

    with pytest.warns(UserWarning, match=r"pixels-nb/holdout-r0.json is damaged \(it has no metrics\); the unit "
                                         "runs again"):
        code, err = _run(capsys, tmp_path, "--protocol", "random", "--dataset", LAB, "--model",
                         "pixels-nb,pixels-knn", "--name", "r")
    assert code == 0, err
    assert "1 units were already done" in err
    assert json.loads(unit.read_text())["metrics"]["test"]["n"] == record["metrics"]["test"]["n"]


@pytest.mark.parametrize("content", ["[]", "{}", "{\"model\": \"pixels-nb\"", ""])
def test_unreadable_unit_records_are_skipped_by_readers(tmp_path, content):
    run = RunFolder(tmp_path / "r")
    path = run.unit_path("pixels-nb", "holdout-r0")
    path.parent.mkdir(parents=True)
    path.write_text(content)
    with pytest.warns(UserWarning, match="skipped unit record"):
        assert run.read_units() == []
    with pytest.warns(UserWarning, match="the unit runs again"):
        assert not run.unit_done("pixels-nb", "holdout-r0")


def test_the_leaderboard_skips_a_run_with_an_unreadable_manifest(capsys, tmp_path):
    code, err = _run(capsys, tmp_path / "runs", *FAST, "--name", "good")
    assert code == 0, err
    bad = tmp_path / "runs" / "bad"
    bad.mkdir()
    (bad / "manifest.json").write_text("{ truncated")
    # The command line itself: the warning is one line on stderr, the good run's table is written.
    proc = subprocess.run([sys.executable, "-m", "bench", "leaderboard", str(tmp_path / "runs"), "--output",
                           str(tmp_path / "lb.md"), "--readme", ""], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 0, proc.stderr
    assert [ln for ln in proc.stderr.splitlines() if ln.startswith("warning:")] == [
        f"warning: skipped run folder {bad}: {bad / 'manifest.json'} is unreadable (Expecting property name "
        "enclosed in double quotes: line 1 column 3 (char 2)); remove the run folder or pick --name"]
    assert "Traceback" not in proc.stderr and "from 1 runs (1 skipped)" in proc.stdout
    assert "pixels-nb" in (tmp_path / "lb.md").read_text()


def test_run_folder_files_are_written_atomically(capsys, tmp_path, monkeypatch):
    code, err = _run(capsys, tmp_path, *FAST, "--name", "r")
    assert code == 0, err
    written = []
    real = Path.write_text
    monkeypatch.setattr(Path, "write_text", lambda self, *a, **k: (written.append(self), real(self, *a, **k))[1])
    code, err = _run(capsys, tmp_path, *FAST, "--name", "r")
    assert code == 0, err
    assert not [p for p in written if tmp_path in p.parents], written  # all through atomic_write_*
    assert pd.read_csv(tmp_path / "r" / "metrics.csv").status.tolist() == ["ok"]
