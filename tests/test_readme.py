"""The README's promises: two set-up commands, the test one run verbatim by CI, a generated leaderboard block."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _setup_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)\n```", section, flags=re.S)


def test_readme_has_exactly_two_setup_commands():
    commands = _setup_commands()
    assert len(commands) == 2, commands
    assert commands[0].endswith("bench run --protocol cross --model all")
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command_verbatim():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert _setup_commands()[1] in ci


def test_readme_has_leaderboard_markers():
    text = (ROOT / "README.md").read_text()
    assert text.index("<!-- leaderboard:start -->") < text.index("<!-- leaderboard:end -->")
