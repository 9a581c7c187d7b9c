"""Running ``bench`` in-process from tests: the exit status and what it printed, and the one-line error rule."""

from __future__ import annotations

import subprocess
import sys

import pytest

import bench.cli.app as cli


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    """``bench ARGV`` in this process: (exit status, stdout, stderr); argparse's usage errors give status 2."""
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def error_line(code: int, err: str) -> str:
    """A refusal: exit status 2 and exactly one line on stderr, starting 'error: ', without a traceback."""
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def refused(result: tuple[int, str, str]) -> str:
    """``error_line`` of a ``run`` result."""
    code, _out, err = result
    return error_line(code, err)


def fresh_process_imports(argv: list[str], modules: set[str]) -> str:
    """``bench ARGV`` in a new interpreter; its stderr tail, after asserting it exited 0 and imported none of
    ``modules`` (exit 3 when it did)."""
    code = (f"import sys; from bench.cli import main; rc = main({argv!r}); "
            f"sys.exit(rc or (3 if set({sorted(modules)!r}) & set(sys.modules) else 0))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stderr[-2000:]
