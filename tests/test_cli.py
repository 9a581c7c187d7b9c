"""CLI shell: every command explains its options; errors are one line with a non-zero exit."""

import subprocess
import sys

import pytest

from bench.cli.app import build_parser, main


def _parsers(parser, prefix=()):
    yield prefix, parser
    for action in parser._actions:
        if action.__class__.__name__ == "_SubParsersAction":
            for name, sub in action.choices.items():
                yield from _parsers(sub, (*prefix, name))


PARSERS = list(_parsers(build_parser()))


@pytest.mark.parametrize("path,parser", PARSERS, ids=[" ".join(p) or "bench" for p, _ in PARSERS])
def test_every_command_explains_every_option(path, parser, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*path, "--help"])
    assert exc.value.code == 0
    assert "usage: bench" in capsys.readouterr().out
    for action in parser._actions:
        if action.option_strings and action.dest != "help":
            assert action.help and len(action.help) > 8, f"{' '.join(path)} {action.option_strings} has no help"


def test_unknown_dataset_is_one_line_with_suggestion(capsys):
    code = main(["data", "info", "synth-wlid"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert "synth-wild" in err


def test_traceback_only_with_debug():
    cmd = [sys.executable, "-m", "bench", "data", "info", "no-such-dataset"]
    plain = subprocess.run(cmd, capture_output=True, text=True)
    assert plain.returncode == 2 and "Traceback" not in plain.stderr
    debug = subprocess.run(cmd[:3] + ["--debug"] + cmd[3:], capture_output=True, text=True)
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_threads_caps_torch_now_and_for_child_processes(monkeypatch):
    import os

    import torch

    from bench.core.threads import limit_threads

    before = torch.get_num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # recorded, so the test's own setting is undone afterwards
    try:
        limit_threads(1)
        assert torch.get_num_threads() == 1 and os.environ["OMP_NUM_THREADS"] == "1"
    finally:
        torch.set_num_threads(before)
    limit_threads(None)  # no option given: nothing changes
    assert torch.get_num_threads() == before


def test_threads_below_one_is_a_one_line_error(capsys):
    assert main(["run", "--threads", "0", "--model", "hog-svm"]) == 2
    assert capsys.readouterr().err.strip() == "error: --threads must be at least 1, got 0"


# ---------------------------------------------------------------------- bench models / bench protocols
def test_bench_models_lists_every_registered_model(capsys):
    from bench.core.models import MODELS

    assert main(["models"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert sorted(r.split("|")[1].strip() for r in rows) == sorted(MODELS.names())
    hog_svm = next(r for r in rows if r.split("|")[1].strip() == "hog-svm")
    assert "classical" in hog_svm and "yes" in hog_svm and "HOG" in hog_svm
    assert main(["models", "--family", "deep"]) == 0
    deep = capsys.readouterr().out
    assert "cnn-003" in deep and "hog-svm" not in deep


def test_bench_models_show_prints_search_space_and_both_presets(capsys):
    assert main(["models", "--show", "cnn-003"]) == 0
    out = capsys.readouterr().out
    assert "search space" in out and "| lr " in out and "log scale" in out
    presets = out.split("presets (", 1)[1].splitlines()
    header = next(line for line in presets if line.startswith("| setting "))
    assert [c.strip() for c in header.split("|")[1:4]] == ["setting", "default", "paper"]
    epochs = next(line for line in presets if line.startswith("| epochs "))
    assert [c.strip() for c in epochs.split("|")[2:4]] == ["5", "50"]  # default preset, paper 003's 50 epochs
    assert main(["models", "--show", "hog-svm"]) == 0
    assert "svm__C" in capsys.readouterr().out
    assert main(["models", "--show", "hog-svn"]) == 2
    assert "did you mean 'hog-svm'" in capsys.readouterr().err


def test_bench_protocols_lists_protocols_and_their_options(capsys):
    assert main(["protocols"]) == 0
    out = capsys.readouterr().out
    for name in ("random", "kfold", "subject", "official", "cross"):
        assert f"| {name} " in out
    assert "--target-fraction" in out and "loso" in out
    assert main(["protocols", "--show", "cross"]) == 0
    out = capsys.readouterr().out
    assert "ft-fc+cl" in out and "FC+CL" in out


def test_unknown_protocol_is_one_line(capsys):
    assert main(["run", "--protocol", "radnom", "--model", "hog-svm"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did you mean 'random'" in err
