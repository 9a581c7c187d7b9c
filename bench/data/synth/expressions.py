"""Emotions as FACS-style action units (AUs), and each subject's idiosyncratic way of producing them.

An expression is a vector of AU activations (0 = absent, ~1 = a full posed apex). The prototypes follow the
EMFACS emotion predictions (Ekman & Friesen): happiness 6+12, sadness 1+4+15(+17), surprise 1+2+5+26,
fear 1+2+4+5+7+20+26, anger 4+5+7+23, disgust 9+10+15(+17), contempt unilateral 12+14.

Each subject scales every AU by its own gain and adds its own per-emotion deviation from the prototype
(one smiles with the mouth open, another frowns without tightening the lids). A classifier trained on a
random split sees every subject's style; on a subject-disjoint split it must generalise across styles,
which is what separates the two protocols.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.core.emotions import EMOTIONS

# The AUs the renderer knows, in vector order. The names say what the renderer moves.
AUS: tuple[str, ...] = (
    "AU1 inner brow raise", "AU2 outer brow raise", "AU4 brow lower", "AU5 upper lid raise",
    "AU6 cheek raise", "AU7 lid tighten", "AU9 nose wrinkle", "AU10 upper lip raise",
    "AU12 lip corner pull", "AU14 dimpler (one side)", "AU15 lip corner depress", "AU17 chin raise",
    "AU20 lip stretch", "AU23 lip tighten", "AU26 jaw drop",
)
(AU1, AU2, AU4, AU5, AU6, AU7, AU9, AU10, AU12, AU14, AU15, AU17, AU20, AU23, AU26) = range(len(AUS))
N_AUS = len(AUS)

_PROTOTYPES: dict[str, dict[int, float]] = {
    "angry": {AU4: 1.0, AU5: 0.4, AU7: 0.8, AU23: 0.9, AU17: 0.3},
    "disgust": {AU9: 1.0, AU10: 0.8, AU15: 0.5, AU17: 0.4, AU4: 0.3},
    "fear": {AU1: 0.9, AU2: 0.6, AU4: 0.6, AU5: 1.0, AU20: 1.0, AU26: 0.5},
    "happy": {AU6: 0.8, AU12: 1.0, AU26: 0.2},
    "sad": {AU1: 1.0, AU4: 0.6, AU15: 0.9, AU17: 0.4},
    "surprise": {AU1: 1.0, AU2: 1.0, AU5: 0.9, AU26: 1.0},
    "neutral": {},
    "contempt": {AU14: 1.0, AU12: 0.25},
}

# Extra AUs a subject may habitually add to an emotion: plausible co-activations, not arbitrary ones,
# so styles stay recognisable as the emotion while differing between people.
_HABITS: dict[str, tuple[int, ...]] = {
    "angry": (AU9, AU10, AU26, AU20, AU15),
    "disgust": (AU7, AU6, AU26, AU12, AU4),
    "fear": (AU7, AU15, AU10, AU23),
    "happy": (AU26, AU20, AU1, AU10),
    "sad": (AU7, AU20, AU23, AU6, AU26),
    "surprise": (AU20, AU12, AU4, AU10),
    "neutral": (),
    "contempt": (AU2, AU15, AU4, AU6),
}


def prototype(emotion: str) -> np.ndarray:
    """The textbook AU vector of one emotion (neutral: all zeros)."""
    vec = np.zeros(N_AUS)
    for au, w in _PROTOTYPES[emotion].items():
        vec[au] = w
    return vec


PROTOTYPES: np.ndarray = np.stack([prototype(e) for e in EMOTIONS])  # (8, N_AUS), canonical emotion order


@dataclass(frozen=True)
class Expressiveness:
    """How one subject expresses: per-AU gains and a per-emotion AU template (rows in canonical order)."""

    gains: np.ndarray  # (N_AUS,)
    templates: np.ndarray  # (8, N_AUS): the subject's own version of each emotion, before gains
    resting: np.ndarray  # (N_AUS,): the subject's neutral face is not all zeros (a resting frown, a half smile)
    contempt_side: int  # +1 or -1: contempt is one-sided, and each person has their side


def sample_expressiveness(rng: np.random.Generator, style: float) -> Expressiveness:
    """Draw a subject's expressive style; ``style`` (0..1) scales how far it strays from the prototypes."""
    gains = np.exp(rng.normal(0.0, 0.35 * style + 0.05, N_AUS))
    templates = PROTOTYPES * np.exp(rng.normal(0.0, 0.45 * style, PROTOTYPES.shape))
    for e, emotion in enumerate(EMOTIONS):
        habits = _HABITS[emotion]
        if not habits:
            continue
        # Each subject picks up one or two habitual extras per emotion, of subject-specific strength.
        picks = rng.choice(len(habits), size=rng.integers(1, 3), replace=False)
        for p in picks:
            templates[e, habits[p]] += rng.uniform(0.2, 0.7) * style
        # ...and under-uses one prototype AU (some people barely move their brows).
        active = np.flatnonzero(PROTOTYPES[e] > 0.45)
        if len(active) > 1 and rng.random() < style:
            templates[e, rng.choice(active)] *= rng.uniform(0.15, 0.5)
    resting = np.zeros(N_AUS)
    for au in rng.choice([AU4, AU12, AU15, AU7, AU1], size=2, replace=False):
        resting[au] = rng.uniform(0.0, 0.25) * style
    return Expressiveness(gains, templates, resting, int(rng.choice([-1, 1])))


def activations(who: Expressiveness, emotion: int, intensity: float, rng: np.random.Generator,
                jitter: float) -> np.ndarray:
    """The AU vector of one image: the subject's template at ``intensity`` plus per-image variation."""
    au = who.resting + intensity * who.gains * who.templates[emotion]
    au = au + rng.normal(0.0, jitter, N_AUS) * (rng.random(N_AUS) < 0.5)
    return np.clip(au, 0.0, 1.4)
