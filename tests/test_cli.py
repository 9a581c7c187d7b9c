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
