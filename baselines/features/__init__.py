"""Image feature extractors: uint8 images (N, H, W) -> float32 (N, D), as scikit-learn transformers."""

from baselines.features.cache import FEATURE_CACHE, FeatureCache, clear_feature_cache
from baselines.features.dwt import DWTFeatures, dwt_features, reference_dwt
from baselines.features.gabor import GaborFeatures, gabor_features, reference_gabor
from baselines.features.hog import HOGFeatures, hog_features, reference_hog
from baselines.features.lbp import LBPFeatures, lbp_features, lbp_image, reference_lbp
from baselines.features.pixels import PixelFeatures, pixel_features

__all__ = [
    "FEATURE_CACHE", "FeatureCache", "clear_feature_cache",
    "DWTFeatures", "dwt_features", "reference_dwt",
    "GaborFeatures", "gabor_features", "reference_gabor",
    "HOGFeatures", "hog_features", "reference_hog",
    "LBPFeatures", "lbp_features", "lbp_image", "reference_lbp",
    "PixelFeatures", "pixel_features",
]
