"""Sound-based anomaly detection for industrial machines, the scikit-learn way.

Rows are clips. Detectors follow scikit-learn's outlier-detection conventions:
``score_samples`` is higher for more normal clips and ``predict`` returns +1
(normal) / -1 (anomaly). Datasets (MIMII, DCASE) label an anomaly 1.

The public objects are imported on first use (PEP 562), so that ``import skaudio_ad`` and the
command line's start-up stay light: jax, librosa and scikit-learn load when first needed.
"""

import importlib

__version__ = "0.1.0.dev0"

# Where each public object lives: name -> (module, attribute or None for the module itself).
_LAZY = {
    "AnomalySpan": ("._locate", "AnomalySpan"),
    "ConvAutoencoderDetector": ("._detector", "ConvAutoencoderDetector"),
    "FeatureStore": ("._store", "FeatureStore"),
    "MelSpectrogramTransformer": ("._features", "MelSpectrogramTransformer"),
    "PerMachineDetector": ("._fleet", "PerMachineDetector"),
    "datasets": (".datasets", None),
    "enable_compilation_cache": ("._cache", "enable_compilation_cache"),
    "exceptions": (".exceptions", None),
    "io": (".io", None),
    "load": ("._persistence", "load"),
    "locate_anomalies": ("._locate", "locate_anomalies"),
    "metrics": (".metrics", None),
    "save": ("._persistence", "save"),
    "score_files": ("._archive", "score_files"),
}

# Exports: one line per public object (several people edit this block; keep it sorted).
__all__ = [
    "AnomalySpan",
    "ConvAutoencoderDetector",
    "FeatureStore",
    "MelSpectrogramTransformer",
    "PerMachineDetector",
    "datasets",
    "enable_compilation_cache",
    "exceptions",
    "io",
    "load",
    "locate_anomalies",
    "metrics",
    "save",
    "score_files",
]


def __getattr__(name):
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    obj = importlib.import_module(module, __name__)
    if attribute is not None:
        obj = getattr(obj, attribute)
    globals()[name] = obj  # later look-ups skip this function
    return obj


def __dir__():
    return sorted(set(globals()) | set(__all__))
