"""The canonical emotion order every loader maps into, and the spellings datasets use for each class."""

from __future__ import annotations

from bench.core.errors import DataError

EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral", "contempt")
BASIC7: tuple[str, ...] = EMOTIONS[:7]
INDEX: dict[str, int] = {name: i for i, name in enumerate(EMOTIONS)}

# Folder and file spellings seen in the common exports (FER2013, CK+48, RAF-DB, KDEF, JAFFE, MUG, TFEID).
ALIASES: dict[str, str] = {
    "anger": "angry", "angry": "angry", "an": "angry", "ang": "angry", "mad": "angry",
    "disgust": "disgust", "disgusted": "disgust", "di": "disgust", "dis": "disgust",
    "fear": "fear", "afraid": "fear", "fearful": "fear", "scared": "fear", "fe": "fear", "af": "fear",
    "happy": "happy", "happiness": "happy", "joy": "happy", "ha": "happy", "hap": "happy",
    "sad": "sad", "sadness": "sad", "sa": "sad",
    "surprise": "surprise", "surprised": "surprise", "su": "surprise", "sur": "surprise",
    "neutral": "neutral", "ne": "neutral", "neu": "neutral",
    "contempt": "contempt", "co": "contempt", "con": "contempt",
}


def canonical(name: str, *, where: str = "") -> int:
    """Canonical index of an emotion name in any common spelling; a clear error for anything else."""
    key = name.strip().lower()
    if key in ALIASES:
        return INDEX[ALIASES[key]]
    hint = f" in {where}" if where else ""
    raise DataError(
        f"unknown emotion label '{name}'{hint}; expected one of {', '.join(EMOTIONS)} "
        "(or pass a class map, e.g. --class-map 'joy=happy')"
    )


def names(indices) -> list[str]:
    return [EMOTIONS[int(i)] for i in indices]
