"""The two synthetic domains and the generator that turns (domain, n, seed, subjects, size) into a FERDataset.

``lab`` behaves like JAFFE / CK+: few subjects, each posing every class at three intensities, frontal, clean,
balanced, 96x96, contempt included. ``wild`` behaves like FER2013: many subjects, 48x48, FER2013's class shares
(rare disgust, no contempt), weaker and more varied expressions, strong nuisance and some label noise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from bench.core.emotions import BASIC7, EMOTIONS, INDEX
from bench.core.errors import ConfigError
from bench.data.dataset import FERDataset
from bench.data.images import MAX_SIDE, check_memory
from bench.data.synth.expressions import Expressiveness, activations, sample_expressiveness
from bench.data.synth.faces import Face, render, sample_face
from bench.data.synth.nuisance import Nuisance, background, occlude, photometric, warp

# Bump whenever the images or labels for the same parameters change: caches and results record it.
GENERATOR_VERSION = "1"

# FER2013 training-set class shares (of 28,709 images).
FER2013_SHARES: dict[str, float] = {
    "angry": 0.139, "disgust": 0.015, "fear": 0.143, "happy": 0.251, "sad": 0.168, "surprise": 0.110,
    "neutral": 0.173,
}

# Which classes an annotator confuses: a noisy label is drawn from the rendered class's list.
CONFUSABLE: dict[str, tuple[str, ...]] = {
    "angry": ("disgust", "sad"), "disgust": ("angry",), "fear": ("surprise", "sad"), "happy": ("neutral",),
    "sad": ("neutral", "fear", "angry"), "surprise": ("fear",), "neutral": ("sad", "happy"),
}


@dataclass(frozen=True)
class Domain:
    name: str  # "lab" or "wild": prefix of subject ids and the ``domain`` metadata
    salt: int  # keeps the two domains' subjects different for the same seed
    classes: tuple[str, ...]
    framing: float  # face half-width as a fraction of the image side
    eye_line: float  # where the eyes sit, as a fraction of the image side from the top
    spread: float  # between-subject appearance variation
    glasses: float  # share of subjects wearing glasses
    session: float  # per-subject framing jitter (relative zoom and shift): each subject's own camera set-up
    style: float  # how idiosyncratic each subject's expressions are (0..1)
    jitter: float  # per-image AU variation (spontaneous, mixed expressions)
    nuisance: Nuisance


LAB = Domain(
    name="lab", salt=1, classes=EMOTIONS, framing=0.3, eye_line=0.42, spread=0.8, glasses=0.0, session=0.015,
    style=0.6,
    jitter=0.05,
    nuisance=Nuisance(rotation=1.5, scale=0.02, shift=0.01, gradient=0.08, gamma=0.05, contrast=(0.95, 1.05),
                      noise=(0.5, 2.0)),
)
# Intensity of a lab subject's 1st, 2nd and 3rd take of a class (a 4th repeats the 1st): posed, near apex,
# like the last frames of CK+ sequences.
LAB_TAKES = (0.7, 0.9, 1.1)

WILD = Domain(
    name="wild", salt=2, classes=BASIC7, framing=0.42, eye_line=0.38, spread=1.0, glasses=0.15, session=0.0,
    style=0.7, jitter=0.1,
    nuisance=Nuisance(rotation=6.0, scale=0.05, shift=0.035, squash=0.12, yaw=0.2, gradient=0.3, gamma=0.25,
                      contrast=(0.6, 1.2), noise=(1.0, 5.0), blur=0.15, occlusion=0.12, clutter=True),
)


def _check(domain: Domain, n: int, seed: int, subjects: int, size: int) -> None:
    for key, value, low in (("n", n, 1), ("subjects", subjects, 1), ("size", size, 24)):
        if not isinstance(value, (int, np.integer)) or value < low:
            raise ConfigError(f"synth-{domain.name}: {key} must be an integer >= {low}, got {value!r}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"synth-{domain.name}: seed must be a non-negative integer, got {seed!r}")
    if size > MAX_SIDE:
        raise ConfigError(f"synth-{domain.name}: size must be at most {MAX_SIDE} pixels, got {size} "
                          f"(e.g. synth-{domain.name}:size=96)")
    check_memory(n, size, f"synth-{domain.name}:n={n},size={size}", "use a smaller n or size")


@dataclass(frozen=True)
class Session:
    """Where a subject was recorded: background level and camera framing (zoom, shift as image fractions)."""

    background: float
    zoom: float
    dx: float
    dy: float


def _subjects(domain: Domain, seed: int, count: int) -> list[tuple[Face, Expressiveness, Session]]:
    """Each subject from its own stream: subject k looks the same whatever n or the subject count is."""
    out = []
    for k in range(count):
        rng = np.random.default_rng([seed, domain.salt, k])
        face = sample_face(rng, domain.spread, domain.glasses)
        expr = sample_expressiveness(rng, domain.style)
        j = domain.session
        session = Session(float(rng.uniform(150, 230)), float(np.exp(rng.normal(0, j))), *rng.normal(0, j, 2))
        out.append((face, expr, session))
    return out


def _exact_counts(shares: np.ndarray, n: int) -> np.ndarray:
    """Largest-remainder rounding: integer counts summing to n, as close to n * shares as possible."""
    raw = shares / shares.sum() * n
    counts = np.floor(raw).astype(int)
    counts[np.argsort(-(raw - counts), kind="stable")[: n - counts.sum()]] += 1
    return counts


def _render_all(domain: Domain, people: list, subject_idx: np.ndarray, rendered: np.ndarray,
                intensity: np.ndarray, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    cfg = domain.nuisance
    n = len(subject_idx)
    images = np.empty((n, size, size), dtype=np.uint8)
    occluder = np.full(n, "none", dtype="<U10")
    yaws = rng.normal(0.0, cfg.yaw, n) if cfg.yaw else np.zeros(n)
    canvas = np.empty((size, size), dtype=np.uint8)
    for i in range(n):
        face, expr, session = people[subject_idx[i]]
        au = activations(expr, int(rendered[i]), float(intensity[i]), rng, domain.jitter)
        level = rng.uniform(20, 235) if cfg.clutter else session.background
        background(canvas, rng, level, cfg.clutter)
        scale = domain.framing * size * session.zoom
        cy = (domain.eye_line + session.dy) * size + 0.09 * scale  # 0.09: mean eye height above face centre
        render(canvas, face, au, scale=scale, cx=(0.5 + session.dx) * size, cy=cy, yaw=float(yaws[i]),
               contempt_side=expr.contempt_side)
        out = warp(canvas, rng, cfg)
        if cfg.occlusion and rng.random() < cfg.occlusion:
            occluder[i] = occlude(out, rng)
        images[i] = out
    return photometric(images, rng, cfg), occluder


def _dataset(domain: Domain, name: str, seed: int, size: int, params: dict, subject_idx: np.ndarray,
             labels: np.ndarray, rendered: np.ndarray, intensity: np.ndarray, noisy: np.ndarray,
             extra_meta: dict[str, np.ndarray], rng: np.random.Generator) -> FERDataset:
    people = _subjects(domain, seed, int(subject_idx.max()) + 1)
    images, occluder = _render_all(domain, people, subject_idx, rendered, intensity, size, rng)
    n = len(labels)
    return FERDataset(
        name=name,
        images=images,
        labels=labels,
        files=np.array([f"synthetic:{name}/seed{seed}/{i:06d}" for i in range(n)]),
        subjects=np.array([f"{domain.name}-s{k:04d}" for k in subject_idx]),
        meta={
            "domain": np.full(n, domain.name),
            "intensity": np.round(intensity, 3),
            "expression": np.array([EMOTIONS[r] for r in rendered]),  # what was drawn, whatever the label says
            "label_noise": noisy,
            "occluder": occluder,
            **extra_meta,
        },
        classes=tuple(INDEX[c] for c in domain.classes),
        info={
            "generator": "bench.data.synth.catalog",
            "generator_version": GENERATOR_VERSION,
            "domain": domain.name,
            "params": params,
            "nuisance": asdict(domain.nuisance),
            "label_noise_rate": float(noisy.mean()) if n else 0.0,
        },
    )


def generate_lab(n: int = 720, seed: int = 0, subjects: int = 24, size: int = 96) -> FERDataset:
    """JAFFE/CK+-like: every subject poses every class (8, contempt included) at three intensities in turn."""
    _check(LAB, n, seed, subjects, size)
    k = len(LAB.classes)
    slots = np.arange(n)
    label_pos, subject_idx, take = slots % k, (slots // k) % subjects, slots // (k * subjects)
    order = np.lexsort((take, label_pos, subject_idx))  # listed by subject, then class, like a dataset folder
    label_pos, subject_idx, take = label_pos[order], subject_idx[order], take[order]
    labels = np.array([INDEX[LAB.classes[p]] for p in label_pos], dtype=np.int64)
    rng = np.random.default_rng([seed, LAB.salt, 10**6])
    levels = np.asarray(LAB_TAKES)[take % 3]
    intensity = np.where(labels == INDEX["neutral"], 0.0, levels * rng.uniform(0.9, 1.1, n))
    params = {"n": n, "seed": seed, "subjects": subjects, "size": size}
    return _dataset(LAB, "synth-lab", seed, size, params, subject_idx, labels, labels.copy(), intensity,
                    np.zeros(n, dtype=bool), {"take": take + 1}, rng)


def generate_wild(n: int = 6000, seed: int = 0, subjects: int = 600, size: int = 48,
                  label_noise: float = 0.07) -> FERDataset:
    """FER2013-like: 7 classes at FER2013's shares, weak varied expressions, strong nuisance, noisy labels."""
    _check(WILD, n, seed, subjects, size)
    if not 0.0 <= label_noise < 0.5:
        raise ConfigError(f"synth-wild: label_noise must be in [0, 0.5), got {label_noise!r}")
    rng = np.random.default_rng([seed, WILD.salt, 10**6])
    shares = np.array([FER2013_SHARES[c] for c in WILD.classes])
    labels = np.repeat([INDEX[c] for c in WILD.classes], _exact_counts(shares, n))
    labels = rng.permutation(labels).astype(np.int64)
    # The label is what an annotator wrote; for a few images the face shows a confusable class instead.
    # Choosing the rendered class from the label (not the reverse) keeps the label shares exact.
    noisy = np.zeros(n, dtype=bool)
    noisy[rng.choice(n, size=int(round(label_noise * n)), replace=False)] = True  # an exact rate
    rendered = labels.copy()
    for i in np.flatnonzero(noisy):
        rendered[i] = INDEX[str(rng.choice(CONFUSABLE[EMOTIONS[labels[i]]]))]
    subject_idx = rng.permutation(np.arange(n) % subjects)
    intensity = np.where(rendered == INDEX["neutral"], 0.0, rng.uniform(0.35, 1.0, n))
    params = {"n": n, "seed": seed, "subjects": subjects, "size": size, "label_noise": label_noise}
    return _dataset(WILD, "synth-wild", seed, size, params, subject_idx, labels, rendered, intensity, noisy,
                    {}, rng)
