"""Fitted models as files: one unit's model saved into the run folder, and any model file opened for scoring.

The format follows the file's suffix:

- ``.pt``: a deep model (``DeepClassifier.save``: weights, training configuration, classes, history), read back
  with ``torch.load(weights_only=True)``, so no code runs on load;
- ``.skops``: a classical pipeline (``skops.io``, never pickle): before loading, the types the file would build
  are listed and any outside the modules fer-bench ships or trusts (``TRUSTED_MODULES``) is refused;
- ``.onnx``: a network from any framework, scored by onnxruntime on the CPU (``bench.run.onnx_model``).

Every file fer-bench writes carries a card (``ModelCard``): the model's name, its label order, the image size
it takes and what it was trained on (dataset fingerprint, run, fold, protocol, and a digest of each training
image, from which ``bench eval`` counts the scored images the model saw in training). torch is imported only
when a ``.pt`` file is written or read, and onnxruntime only for ``.onnx``: classical paths load neither.
"""

from __future__ import annotations

import hashlib
import sys
import time
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench import __version__
from bench.core.contracts import fitted_classes
from bench.core.emotions import EMOTIONS, INDEX
from bench.core.errors import ConfigError
from bench.core.files import atomic_write_bytes
from bench.data.dataset import FERDataset
from bench.data.images import resize_all
from bench.results.folder import RunFolder

CARD_FORMAT = "fer-bench-model/1"
SKOPS_FORMAT = "fer-bench-classical/1"
SUFFIXES = (".pt", ".skops", ".onnx")
# A .skops file may build types of these packages only (their top-level module name): the project's own and
# the libraries its pipelines are made of. Anything else (builtins.eval, a stranger's class) is refused.
TRUSTED_MODULES = ("sklearn", "numpy", "scipy", "xgboost", "baselines", "bench")


@dataclass(frozen=True)
class ModelCard:
    """What a saved model is: its name, label order, input and provenance (plain values only).

    classes:      canonical emotion indices in the column order of ``predict_proba``;
    image_size:   (H, W) of the uint8 grayscale images it takes; scoring resizes other images to it first;
    trained_on:   dataset name and fingerprint, number of training images, run, fold, protocol configuration
                  (whatever the saver knew; ``{}`` for a model from elsewhere);
    train_hashes: the 16-byte digests (``FERDataset.image_hashes``) of its training images, concatenated.
    """

    model: str
    family: str
    classes: tuple[int, ...]
    image_size: tuple[int, int]
    trained_on: dict[str, Any] = field(default_factory=dict)
    train_hashes: bytes = b""
    fer_bench: str = __version__

    @property
    def class_names(self) -> list[str]:
        return [EMOTIONS[c] for c in self.classes]

    def hashes(self) -> np.ndarray:
        """The training images' digests as an ``S16`` array (empty when the card has none)."""
        return np.frombuffer(self.train_hashes, dtype="S16") if self.train_hashes else np.empty(0, dtype="S16")

    def to_dict(self) -> dict[str, Any]:
        return {"format": CARD_FORMAT, "model": self.model, "family": self.family, "classes": self.class_names,
                "image_size": list(self.image_size), "trained_on": self.trained_on,
                "train_hashes": self.train_hashes, "fer_bench": self.fer_bench}

    @classmethod
    def from_dict(cls, d: Any, where: Path) -> ModelCard:
        try:
            if d["format"] != CARD_FORMAT:
                raise ValueError(f"card format {d['format']!r}")
            classes = tuple(INDEX[str(c)] for c in d["classes"])
            size = tuple(int(v) for v in d["image_size"])
            if len(size) != 2:
                raise ValueError("image_size")
            return cls(str(d["model"]), str(d["family"]), classes, (size[0], size[1]), dict(d.get("trained_on") or {}),
                       bytes(d.get("train_hashes") or b""), str(d.get("fer_bench", "?")))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{where} holds a damaged fer-bench model card ({type(exc).__name__}: {exc}); "
                              "save the model again") from None


@dataclass
class SavedModel:
    """An opened model file: the fitted estimator, its card and where it came from."""

    path: Path
    estimator: Any
    card: ModelCard
    sha256: str

    @property
    def kind(self) -> str:
        return self.path.suffix.lstrip(".").lower()

    def predict_proba(self, images: np.ndarray | list[np.ndarray]) -> np.ndarray:
        """Probabilities (N, len(card.classes)) of uint8 grayscale images of any size, each resized to the
        model's image size first (area interpolation when shrinking, linear when enlarging, as importers do)."""
        return np.asarray(self.estimator.predict_proba(resize_all(images, self.card.image_size)))


# scikit-learn's array-API shim for torch: importing it imports torch.
_TORCH_SHIM = "sklearn.externals.array_api_compat.torch"


def skops_io() -> types.ModuleType:
    """``skops.io``, imported without torch.

    At import skops lists scikit-learn's estimators (``sklearn.utils.all_estimators``), whose package walk
    imports every subpackage, ``sklearn.externals.array_api_compat.torch`` included, and with it torch (seconds
    and ~860 MB) wherever torch is installed. A classical model needs neither, so the walk is kept out of that
    one package by a placeholder that is removed right after; importing the shim later works as usual.
    """
    if "skops.io" in sys.modules or "torch" in sys.modules or _TORCH_SHIM in sys.modules:
        import skops.io

        return skops.io
    placeholder = types.ModuleType(_TORCH_SHIM)  # no __path__: the walk does not enter it
    sys.modules[_TORCH_SHIM] = placeholder
    try:
        import skops.io
    finally:
        if sys.modules.get(_TORCH_SHIM) is placeholder:
            del sys.modules[_TORCH_SHIM]
    return skops.io


# ---------------------------------------------------------------------- saving
def model_suffix(estimator: Any) -> str:
    """``pt`` for a model that writes its own checkpoint (``DeepClassifier``), ``skops`` for anything else."""
    return "pt" if callable(getattr(estimator, "save", None)) and hasattr(type(estimator), "from_checkpoint") \
        else "skops"


def save_model(estimator: Any, path: str | Path, *, model_name: str, image_size: tuple[int, int] | int,
               family: str | None = None, trained_on: dict[str, Any] | None = None,
               train_hashes: np.ndarray | bytes | None = None) -> Path:
    """Write one fitted model to ``path`` (``.pt`` for deep models, ``.skops`` for classical pipelines) with its
    card; the file is written whole or not at all. The label order is the estimator's ``classes_``."""
    path = Path(path)
    suffix = model_suffix(estimator)
    if path.suffix != f".{suffix}":
        raise ConfigError(f"{path}: a {type(estimator).__name__} is saved as .{suffix}, not '{path.suffix}'")
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(int(v) for v in image_size)
    hashes = train_hashes.tobytes() if isinstance(train_hashes, np.ndarray) else bytes(train_hashes or b"")
    card = ModelCard(model_name, family or ("deep" if suffix == "pt" else "classical"),
                     tuple(int(c) for c in fitted_classes(estimator)), (size[0], size[1]),
                     dict(trained_on or {}), hashes)
    if suffix == "pt":
        estimator.save(path, card=card.to_dict())  # DeepClassifier.save writes atomically
    else:
        sio = skops_io()
        obj = {"format": SKOPS_FORMAT, "card": card.to_dict(), "model": estimator}
        atomic_write_bytes(path, lambda fh: sio.dump(obj, fh))
    return path


def save_run_model(run: RunFolder, model: str, fold_id: str, estimator: Any, dataset: FERDataset,
                   train_index: np.ndarray, *, protocol: dict[str, Any] | None = None) -> Path:
    """Keep a unit's fitted model at ``RUN/models/MODEL/FOLD.EXT``, with the card that says what it was trained
    on: ``train_index`` are the dataset indices it was fitted on (train, and val for early stopping)."""
    train_index = np.asarray(train_index, dtype=np.int64)
    trained_on = {"dataset": dataset.name, "fingerprint": dataset.fingerprint(), "n_images": int(len(train_index)),
                  "run": run.path.name, "fold": fold_id, "protocol": protocol, "saved": time.strftime("%Y-%m-%d")}
    return save_model(estimator, run.model_path(model, fold_id, model_suffix(estimator)), model_name=model,
                      image_size=dataset.image_size, trained_on={k: v for k, v in trained_on.items() if v is not None},
                      train_hashes=dataset.image_hashes()[train_index])


# ---------------------------------------------------------------------- opening
def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def open_model(path: str | Path, *, device: str = "cpu", onnx_input: Any = None,
               trusted_modules: tuple[str, ...] = ()) -> SavedModel:
    """Open a model file for scoring, by suffix (``.pt``, ``.skops``, ``.onnx``); one-line errors for anything
    that is not such a model. ``onnx_input`` (``bench.run.onnx_model.OnnxInput``) is what the command line says
    about an ONNX model's input; ``trusted_modules`` extends ``TRUSTED_MODULES`` for ``.skops`` files."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"model file {path} does not exist; give a saved model (RUN/models/MODEL/FOLD.pt or "
                          ".skops) or an ONNX file")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ConfigError(f"{path} is not a model file fer-bench reads: give a .pt (deep), .skops (classical) or "
                          ".onnx file")
    if onnx_input is not None and suffix != ".onnx" and any(v is not None for v in vars(onnx_input).values()):
        raise ConfigError(f"--input-size, --channels, --scale, --layout and --labels describe ONNX models; {path} "
                          "records its own input and label order")
    if suffix == ".pt":
        estimator, card = _open_deep(path, device)
    elif suffix == ".skops":
        estimator, card = _open_skops(path, TRUSTED_MODULES + tuple(trusted_modules))
    else:
        from bench.run.onnx_model import open_onnx  # onnxruntime only for ONNX files

        estimator, about = open_onnx(path, onnx_input)
        card = ModelCard(about["model"], "onnx", tuple(int(c) for c in estimator.classes_), estimator.spec.input_size,
                         about["trained_on"], b"", about["fer_bench"])
    if [int(c) for c in fitted_classes(estimator)] != list(card.classes):
        raise ConfigError(f"{path}: the model's classes ({', '.join(EMOTIONS[int(c)] for c in fitted_classes(estimator))}) "
                          f"differ from its card's ({', '.join(card.class_names)}); save it again")
    return SavedModel(path, estimator, card, file_sha256(path))


def load_model(path: str | Path, **kw: Any) -> Any:
    """The fitted estimator in a model file (``open_model`` gives its card too)."""
    return open_model(path, **kw).estimator


def _open_deep(path: Path, device: str) -> tuple[Any, ModelCard]:
    from deep.estimator import DeepClassifier, read_checkpoint  # torch only for .pt files

    ck = read_checkpoint(path)
    est = DeepClassifier.from_checkpoint(ck, device)
    if ck.get("card") is not None:
        return est, ModelCard.from_dict(ck["card"], path)
    # A checkpoint saved without a card (a cross run's source model): its network's input size stands in.
    side = int(est.config_.input_size)
    return est, ModelCard(str(ck["params"]["arch"]), "deep", tuple(int(c) for c in est.classes_), (side, side))


def _open_skops(path: Path, trusted_modules: tuple[str, ...]) -> tuple[Any, ModelCard]:
    sio = skops_io()
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:  # noqa: BLE001 - zipfile, JSON and schema errors all mean "not a skops file"
        raise ConfigError(f"{path} is not a skops file ({type(exc).__name__}: {' '.join(str(exc).split())[:160]}); "
                          "give a model saved by fer-bench") from None
    refused = sorted(t for t in untrusted if t.split(".")[0] not in trusted_modules)
    if refused:
        raise ConfigError(f"{path} would build types fer-bench does not trust: {', '.join(refused[:5])}"
                          f"{' ...' if len(refused) > 5 else ''}; only types of {', '.join(trusted_modules)} are "
                          "loaded (inspect it with skops.io.get_untrusted_types before loading it yourself)")
    try:
        obj = sio.load(path, trusted=untrusted)
    except Exception as exc:  # noqa: BLE001 - a damaged file fails anywhere in skops' tree walk
        raise ConfigError(f"{path} could not be loaded by skops ({type(exc).__name__}: "
                          f"{' '.join(str(exc).split())[:160]})") from None
    if not isinstance(obj, dict) or obj.get("format") != SKOPS_FORMAT or "model" not in obj:
        raise ConfigError(f"{path} is a skops file but not a fer-bench model (no '{SKOPS_FORMAT}' card); save "
                          "models with bench run --save-models or bench.run.saved_models.save_model")
    return obj["model"], ModelCard.from_dict(obj.get("card"), path)
