"""Checks that a fitted detector (e.g. one just loaded from a model file) is usable."""

import numbers

import jax
import numpy as np
from flax import nnx

from . import _training
from ._evidence import EVIDENCE, SCORE_LAMBDA_BOUNDS, TRANSFORM_ATTRIBUTES
from ._network import ARCHITECTURES

__all__ = ["validate_state"]


def validate_state(detector):
    """Raise ValueError with one sentence when the fitted ``detector`` cannot be used.

    An unfitted detector (none of the fitted attributes) passes; a partly fitted one does not.
    """
    required = ["params_", "feature_mean_", "feature_scale_", "patch_frames_",
                "n_features_in_", "error_mean_", "error_std_", "offset_"]
    evidence = EVIDENCE.get(getattr(detector, "evidence", None), ())
    if "profile" in evidence:
        required += ["profile_reference_", "profile_mean_", "profile_scale_",
                     "evidence_mean_", "evidence_scale_"]
    if "spectrum" in evidence:
        required += ["spectrum_reference_"]
    transformed = getattr(detector, "score_transform", None) is not None
    if transformed:
        required += TRANSFORM_ATTRIBUTES
    missing = [name for name in required if not hasattr(detector, name)]
    if len(missing) == len(required):
        return  # not fitted (e.g. a meta-estimator's template): nothing to use yet
    if missing:
        raise ValueError(f"The detector lacks the fitted attributes {missing}.")
    try:
        config = detector._config
        ARCHITECTURES[config.architecture]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"The detector's network configuration is invalid: {exc}.") from exc
    expected = nnx.to_pure_dict(_training.abstract_params(config))
    _check_tree(detector.params_, expected, (), "params_")
    if getattr(detector, "fold_params_", None) is not None:
        k = detector.n_folds_
        _check_tree(detector.fold_params_, expected, (k,), "fold_params_")
    scalars = ["error_mean_", "error_std_", "offset_"]
    if transformed:
        scalars += TRANSFORM_ATTRIBUTES
    for name in scalars:
        value = getattr(detector, name)
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(f"{name} must be a number; got {type(value).__name__} {value!r}.")
    for name in ("feature_mean_", "feature_scale_"):
        value = np.asarray(getattr(detector, name))
        if value.shape != (detector.n_features_in_,):
            raise ValueError(
                f"{name} has shape {value.shape}; expected ({detector.n_features_in_},)."
            )
    n_channels = int(detector.n_features_in_)
    shapes = {"profile_reference_": (None, n_channels),
              "profile_mean_": (n_channels,), "profile_scale_": (n_channels,),
              "spectrum_reference_": (None, 2 * n_channels),
              "evidence_mean_": (len(evidence),), "evidence_scale_": (len(evidence),)}
    for name, shape in shapes.items():
        if name in required:
            value = np.asarray(getattr(detector, name))
            if value.ndim != len(shape) or any(
                s is not None and s != v for s, v in zip(shape, value.shape, strict=True)
            ):
                raise ValueError(f"{name} has shape {value.shape}; expected {shape}.")
    for name, value in vars(detector).items():
        if not name.endswith("_") or name.startswith("_"):
            continue
        leaves = jax.tree.leaves(value) if isinstance(value, dict | list) else [value]
        for leaf in leaves:
            numeric = isinstance(leaf, numbers.Real) or (
                isinstance(leaf, np.ndarray) and np.issubdtype(leaf.dtype, np.number)
            )
            if numeric and not np.all(np.isfinite(np.asarray(leaf, dtype=np.float64))):
                raise ValueError(f"The fitted attribute {name} holds NaN or infinite values.")
    for name in ("feature_scale_", "profile_scale_", "score_scale_"):
        if name in required and np.any(np.asarray(getattr(detector, name)) <= 0):
            raise ValueError(f"{name} holds values <= 0.")
    if transformed:
        low, high = SCORE_LAMBDA_BOUNDS
        # Outside the bounds the transform can cap the scores below any threshold.
        if not low <= detector.score_lambda_ <= high:
            raise ValueError(
                f"score_lambda_ is {detector.score_lambda_!r}; it must lie in [{low}, {high}]."
            )


def _check_tree(pure, expected, lead, name):
    """``pure`` has ``expected``'s structure, each leaf of shape ``lead + shape`` and its dtype."""
    if not isinstance(pure, dict):
        raise ValueError(f"{name} is a {type(pure).__name__}, not the nested dict of arrays.")
    flat, flat_expected = _flatten(pure), _flatten(expected)
    if set(flat) != set(flat_expected):
        diff = sorted(set(flat) ^ set(flat_expected))[:3]
        raise ValueError(f"{name} does not match the network configuration (keys {diff}).")
    for path, spec in flat_expected.items():
        leaf = np.asarray(flat[path])
        shape = lead + tuple(spec.shape)
        if leaf.shape != shape or leaf.dtype != spec.dtype:
            raise ValueError(
                f"{name}[{'/'.join(map(str, path))}] has shape {leaf.shape} and dtype "
                f"{leaf.dtype}; the network configuration implies {shape} {spec.dtype}."
            )


def _flatten(tree, prefix=()):
    if isinstance(tree, dict):
        out = {}
        for key, value in tree.items():
            out.update(_flatten(value, (*prefix, key)))
        return out
    return {prefix: tree}
