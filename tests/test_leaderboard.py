"""The leaderboard is generated from run folders, and the committed one matches them byte for byte."""

import argparse
from pathlib import Path

import pytest

from bench.core.errors import BenchError
from leaderboard.build import discover_runs, render
from leaderboard.write import leaderboard_from_args, replace_block

ROOT = Path(__file__).resolve().parents[1]


def test_committed_leaderboard_is_reproduced_byte_for_byte(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert discover_runs(None), "results/ must hold the committed run summaries behind the README's table"
    args = argparse.Namespace(runs=None, output="leaderboard/LEADERBOARD.md", readme="README.md", check=True)
    assert leaderboard_from_args(args) == 0


def test_render_is_deterministic(monkeypatch):
    monkeypatch.chdir(ROOT)
    runs = discover_runs(None)
    assert render(runs) == render(list(reversed(runs)))


def test_readme_block_replacement():
    text = "intro\n<!-- leaderboard:start -->\nold\n<!-- leaderboard:end -->\ntail\n"
    assert replace_block(text, "new\n") == "intro\n<!-- leaderboard:start -->\nnew\n<!-- leaderboard:end -->\ntail\n"
    with pytest.raises(BenchError, match="markers"):
        replace_block("no markers here", "x")
