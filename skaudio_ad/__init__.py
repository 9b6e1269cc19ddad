"""Sound-based anomaly detection for industrial machines, the scikit-learn way.

Rows are clips. Detectors follow scikit-learn's outlier-detection conventions:
``score_samples`` is higher for more normal clips and ``predict`` returns +1
(normal) / -1 (anomaly). Datasets (MIMII, DCASE) label an anomaly 1.
"""

__version__ = "0.1.0.dev0"

from . import datasets, io, metrics
from ._detector import ConvAutoencoderDetector
from ._features import MelSpectrogramTransformer
from ._persistence import load, save
from ._store import FeatureStore

# Exports: one line per public object (several people edit this block; keep it sorted).
__all__ = [
    "ConvAutoencoderDetector",
    "FeatureStore",
    "MelSpectrogramTransformer",
    "datasets",
    "io",
    "load",
    "metrics",
    "save",
]
