"""Sound-based anomaly detection for industrial machines, the scikit-learn way.

Rows are clips. Detectors follow scikit-learn's outlier-detection conventions:
``score_samples`` is higher for more normal clips and ``predict`` returns +1
(normal) / -1 (anomaly). Datasets (MIMII, DCASE) label an anomaly 1.

The public names are imported on first access (PEP 562), so that ``import skaudio_ad``
costs milliseconds and a command that needs only a model and one file never imports JAX,
the dataset loaders or plotting before it must.
"""

import importlib

__version__ = "0.1.0.dev0"

# Public name -> module that defines it (one line per object; keep sorted).
_LAZY_OBJECTS = {
    "AnomalySpan": "._locate",
    "ConvAutoencoderDetector": "._detector",
    "MelSpectrogramTransformer": "._features",
    "enable_compilation_cache": "._cache",
    "load": "._persistence",
    "locate_anomalies": "._locate",
    "save": "._persistence",
}
_LAZY_SUBMODULES = ("datasets", "io", "metrics", "plotting")

# Exports: one line per public object (several people edit this block; keep it sorted).
__all__ = [
    "AnomalySpan",
    "ConvAutoencoderDetector",
    "MelSpectrogramTransformer",
    "datasets",
    "enable_compilation_cache",
    "io",
    "load",
    "locate_anomalies",
    "metrics",
    "save",
]


def __getattr__(name):
    if name in _LAZY_OBJECTS:
        value = getattr(importlib.import_module(_LAZY_OBJECTS[name], __name__), name)
    elif name in _LAZY_SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later accesses skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__) | set(_LAZY_SUBMODULES))
