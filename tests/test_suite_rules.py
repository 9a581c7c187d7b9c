"""The suite's own rule: a test may skip only when an optional resource is absent (shared data, PostgreSQL
binaries, a GPU), and says which. A skip on anything else (a guard left from parallel development, a declared
dependency) turns a broken feature into a skipped test instead of a failing one."""

from __future__ import annotations

import ast
import re
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What a skip's reason must name: the optional resources a machine may lack.
OPTIONAL_RESOURCES = re.compile(r"shared data|FER2013|JAFFE|Taiwan|PostgreSQL|postgres|GPU|CUDA", re.IGNORECASE)


def _dependencies() -> set[str]:
    # The [project] dependencies array (tomllib needs Python 3.11; the project supports 3.10).
    block = re.search(r"^dependencies = \[(.*?)^\]", (ROOT / "pyproject.toml").read_text(), re.S | re.M).group(1)
    names = {re.split(r"[<>=!~\[ ;]", d, maxsplit=1)[0] for d in re.findall(r'"([^"]+)"', block)}
    return {n.lower().replace("-", "_") for n in names} | {"bench", "baselines", "deep", "protocols", "leaderboard"}


def _skips(tree: ast.AST) -> list[tuple[int, str, ast.Call]]:
    """(line, kind, call) of every pytest.skip / pytest.mark.skipif / pytest.importorskip / pytest.mark.skip."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            if name in ("pytest.skip", "pytest.mark.skipif", "pytest.importorskip", "pytest.mark.skip"):
                found.append((node.lineno, name.rsplit(".", 1)[1], node))
        elif isinstance(node, ast.Attribute) and ast.unparse(node) == "pytest.mark.skip":
            found.append((node.lineno, "skip", None))
    return found


def _reason(call: ast.Call | None) -> str:
    if call is None:
        return ""
    texts = [ast.unparse(a) for a in call.args] + [ast.unparse(k.value) for k in call.keywords if k.arg in
                                                    ("reason", "msg")]
    return " ".join(texts)


def test_tests_skip_only_for_an_absent_optional_resource():
    deps = _dependencies()
    bad = []
    for path in sorted((ROOT / "tests").glob("*.py")):
        for line, kind, call in _skips(ast.parse(path.read_text(), str(path))):
            where = f"{path.name}:{line}"
            if kind == "importorskip":
                module = ast.literal_eval(call.args[0]).split(".")[0] if call and call.args else "?"
                # Module names differ from distribution names (cv2: opencv-python-headless).
                dists = {d.lower().replace("-", "_") for d in packages_distributions().get(module, [])}
                if module.lower() in deps or dists & deps:
                    bad.append(f"{where}: importorskip('{module}') but {module} is a declared dependency")
            elif not OPTIONAL_RESOURCES.search(_reason(call)):
                bad.append(f"{where}: {kind} without an optional resource in its reason: {_reason(call)[:80]!r}")
    assert not bad, "\n".join(bad)
