"""Classical FER baselines: feature extractors + scikit-learn classifiers, registered in ``baselines.zoo``."""

from baselines.sizes import model_size

__all__ = ["model_size"]
