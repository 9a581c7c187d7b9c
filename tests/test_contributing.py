"""CONTRIBUTING.md's recipes are worked examples: each code block runs as written, in a fresh process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = re.findall(r"^## (Recipe \d+: [^\n]+)\n.*?```python\n(.*?)\n```",
                    (ROOT / "CONTRIBUTING.md").read_text(), flags=re.S | re.M)


def test_there_are_five_recipes():
    assert [title.split(":")[1].strip() for title, _ in BLOCKS] == [
        "a feature extractor", "a classifier", "a deep architecture", "a protocol", "an importer"]


@pytest.mark.parametrize("title,code", BLOCKS, ids=[t.split(":")[0] for t, _ in BLOCKS])
def test_recipe_runs_as_written(title, code, tmp_path):
    env = {**os.environ, "FER_BENCH_DATA_DIR": str(tmp_path / "data"), "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, f"{title}:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
