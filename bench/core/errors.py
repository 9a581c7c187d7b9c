"""User-facing errors: one line that names the culprit and the fix; the CLI turns them into exit code 2."""

from __future__ import annotations


class BenchError(Exception):
    """An error caused by input or configuration, reported as one line without a traceback."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        # Keep the message on one line whatever the caller passed in.
        super().__init__(" ".join(str(message).split()))


class DataError(BenchError):
    """A dataset file, folder or label could not be used."""


class ConfigError(BenchError):
    """An option, name or combination of options is invalid."""


class NotImplementedYet(BenchError):
    """A command or option that a later milestone delivers."""


def did_you_mean(name: str, choices: list[str] | tuple[str, ...]) -> str:
    """A ' did you mean X?' suffix for an unknown name, or '' when nothing is close."""
    import difflib

    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.5)
    return f" did you mean '{close[0]}'?" if close else ""


class UnitSkipped(BenchError):
    """A (model, fold) unit that cannot run here (e.g. pretrained weights not available offline).

    The engine records the unit as skipped with this message instead of training something else under its name.
    """
