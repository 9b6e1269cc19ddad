"""Clip-level evidence beside the reconstruction error, and how the pieces are combined.

Pure numpy, no scikit-learn. Every evidence is a per-clip number, higher = more anomalous:

- ``"error"``: the clip's mean squared reconstruction error (one-sided: only too-high error).
- ``"profile"``: distance of the clip's per-mel-bin error profile (log of the time-mean error
  of each bin, each bin standardised by its mean and standard deviation over the normal
  clips' out-of-fold profiles) to its nearest normal profiles. Two-sided: a clip that
  reconstructs unusually *well* in some bins (a valve whose anomaly is a missing transient)
  is also far. The standardisation gives every bin one vote: unstandardised, the few bins
  whose log error varies most among normal clips (quiet, noisy bands) decided the distance.
- ``"spectrum"``: distance of the clip's standardised spectral statistics (time mean and
  standard deviation of every mel bin) to its nearest normal clips, the strongest simple
  baseline on real recordings (../shared/NOTES.md).

Each evidence is standardised by the mean and standard deviation of its out-of-fold values on
the normal training clips (no clip scores itself) and the standardised values are summed:
the detector's ``evidence="profile"`` (the default) sums the error and the profile,
``"profile-only"`` keeps the profile alone, ``"combined"`` all three (:data:`EVIDENCE`).

Whatever the clip score, :func:`fit_score_transform` and :func:`transform_scores` make the
normal clips' scores Gaussian (a Yeo-Johnson power transform of the standardised scores,
fitted on the same out-of-fold scores by maximum likelihood), so that the threshold rule
"mean + k standard deviations" flags the share of normal clips a Gaussian gives for k.
Distances and squared errors are right-skewed: on them the rule at k = 2 flagged 0.08-0.09
of held-out normal clips over the quality benchmark (up to 0.20 in design runs), 0.05 after
the transform (``benchmarks/results/quality.md``).
"""

import numpy as np
from scipy import optimize, stats

__all__ = [
    "EVIDENCE",
    "SCORE_LAMBDA_BOUNDS",
    "TRANSFORM_ATTRIBUTES",
    "fit_score_transform",
    "knn_distance",
    "profile",
    "profile_scaling",
    "scaled_knn_distance",
    "spectral_statistics",
    "transform_scores",
]

#: The evidence of each ``evidence=`` option of the detector, in the order they are stored.
EVIDENCE = {
    "reconstruction": ("error",),
    "profile": ("error", "profile"),
    "profile-only": ("profile",),
    "combined": ("error", "profile", "spectrum"),
}

#: Neighbours averaged by the k-nearest-neighbour distances (the kNN baseline's k).
N_NEIGHBORS = 5

#: Floor of the per-bin error before its log (errors of standardised features are O(1)).
PROFILE_FLOOR = 1e-6

#: Added to the standard deviation of each bin's log error (natural log units) before it
#: divides, so that a bin that barely varies among the normal clips cannot dominate.
PROFILE_SCALE_FLOOR = 1e-3

#: Range of the Yeo-Johnson exponent of the score transform. 1 is the identity; below 1 the
#: upper tail is compressed (right-skewed scores). Never below 0, where the transform is
#: bounded above and an arbitrarily anomalous clip could no longer pass every threshold;
#: never above 1, where it expands the upper tail (and can overflow).
SCORE_LAMBDA_BOUNDS = (0.0, 1.0)

#: Fewer normal scores than this leave the shape unmeasured: the transform is the identity.
MIN_TRANSFORM_SCORES = 3

#: The detector's fitted attributes for :func:`fit_score_transform`'s ``(centre, scale, lam)``.
TRANSFORM_ATTRIBUTES = ("score_centre_", "score_scale_", "score_lambda_")


def profile(maps):
    """Log time-mean error per channel, ``(n_clips, n_channels)``, of error maps ``(n, t, c)``."""
    return np.log(np.maximum(maps.mean(axis=1), PROFILE_FLOOR))


def profile_scaling(profiles):
    """Per-bin centre and scale of normal clips' log error profiles ``(n, c)``: ``(c,), (c,)``.

    A single profile gives a unit scale (no spread to measure).
    """
    centre = profiles.mean(axis=0)
    spread = profiles.std(axis=0, ddof=1) if len(profiles) > 1 else np.ones(profiles.shape[1])
    return centre, spread + PROFILE_SCALE_FLOOR


def scaled_knn_distance(reference):
    """Leave-one-out :func:`knn_distance` of every row after :func:`profile_scaling`.

    Each row is measured under the scaling of the *other* rows (a jackknife of the column
    standard deviations), so that it is judged as a new row would be (new rows are scaled by
    all of them): a scaling that included the row shrank its own deviations, which made the
    normal clips' distances, and with them the threshold, too low (on 5-10 clips, 1.5x the
    false alarms).
    """
    n = len(reference)
    if n < 3:  # no spread is left to measure without the row
        centre, scale = profile_scaling(reference)
        return knn_distance((reference - centre) / scale)
    X = reference - reference.mean(axis=0)  # distances do not depend on the centre
    total, squares = X.sum(axis=0), (X**2).sum(axis=0)
    others_mean = (total - X) / (n - 1)
    others_var = (squares - X**2 - (n - 1) * others_mean**2) / (n - 2)
    weights = 1.0 / (np.sqrt(np.maximum(others_var, 0.0)) + PROFILE_SCALE_FLOOR) ** 2
    k = min(N_NEIGHBORS, n - 1)
    out = np.empty(n)
    for lo in range(0, n, 256):
        W, chunk = weights[lo : lo + 256], X[lo : lo + 256]
        # Row i against every row j under row i's weights: sum_c w_ic (x_ic - x_jc)^2.
        with np.errstate(invalid="ignore", over="ignore"):
            d2 = (W * chunk**2).sum(axis=1)[:, None] - 2.0 * (W * chunk) @ X.T + W @ (X**2).T
            d = np.sqrt(np.maximum(d2, 0.0))
        d[np.arange(len(chunk)), lo + np.arange(len(chunk))] = np.inf
        out[lo : lo + len(chunk)] = np.sort(d, axis=1)[:, :k].mean(axis=1)
    return out


def spectral_statistics(X):
    """Time mean and standard deviation per channel of standardised clips ``(n, t, c)``."""
    # Clips far outside the training range overflow to inf; the detector names those rows.
    with np.errstate(over="ignore", invalid="ignore"):
        return np.concatenate([X.mean(axis=1), X.std(axis=1)], axis=1).astype(np.float64)


def knn_distance(reference, vectors=None):
    """Mean Euclidean distance to the ``N_NEIGHBORS`` nearest rows of ``reference``.

    With ``vectors=None``, the leave-one-out distances of the reference rows themselves (each
    row's neighbours exclude the row). ``k = min(N_NEIGHBORS, n_reference - 1)`` in both cases,
    so that out-of-fold and new clips are measured alike; one reference row gives 0.
    """
    n = len(reference)
    k = max(1, min(N_NEIGHBORS, n - 1))
    own = vectors is None
    vectors = reference if own else vectors
    out = np.empty(len(vectors))
    # Chunks bound the memory of the distance matrix for many clips.
    for lo in range(0, len(vectors), 256):
        chunk = vectors[lo : lo + 256]
        # Non-finite vectors give non-finite distances; the detector reports those rows.
        with np.errstate(invalid="ignore", over="ignore"):
            d2 = (
                (chunk**2).sum(axis=1)[:, None]
                - 2.0 * chunk @ reference.T
                + (reference**2).sum(axis=1)[None, :]
            )
            d = np.sqrt(np.maximum(d2, 0.0))
        if own:
            if n == 1:
                out[lo : lo + len(chunk)] = 0.0
                continue
            d[np.arange(len(chunk)), lo + np.arange(len(chunk))] = np.inf
        kk = min(k, d.shape[1])
        out[lo : lo + len(chunk)] = np.sort(d, axis=1)[:, :kk].mean(axis=1)
    return out


def fit_score_transform(scores):
    """``(centre, scale, lam)``: the transform that makes normal clips' ``scores`` Gaussian.

    The scores are standardised by their mean and standard deviation, and the Yeo-Johnson
    exponent ``lam`` maximises the Gaussian likelihood of the result within
    :data:`SCORE_LAMBDA_BOUNDS` (scipy's ``yeojohnson_llf``). Under
    :data:`MIN_TRANSFORM_SCORES` scores, or scores without spread, ``lam`` is 1 (identity).
    """
    scores = np.asarray(scores, dtype=np.float64)
    centre = float(scores.mean())
    scale = float(scores.std(ddof=1)) if len(scores) > 1 else 0.0
    if not (np.isfinite(scale) and scale > 0.0):
        return centre, 1.0, 1.0
    if len(scores) < MIN_TRANSFORM_SCORES:
        return centre, scale, 1.0
    z = (scores - centre) / scale
    found = optimize.minimize_scalar(
        lambda lam: -stats.yeojohnson_llf(lam, z), bounds=SCORE_LAMBDA_BOUNDS, method="bounded"
    )
    return centre, scale, float(np.clip(found.x, *SCORE_LAMBDA_BOUNDS))


def transform_scores(scores, centre, scale, lam):
    """The Yeo-Johnson transform ``lam`` of ``(scores - centre) / scale``; strictly increasing.

    Elementwise, so that a clip's transformed score does not depend on the other clips.
    Infinite scores stay infinite, NaN stays NaN.
    """
    z = (np.asarray(scores, dtype=np.float64) - centre) / scale
    up, down = np.maximum(z, 0.0), np.minimum(z, 0.0)
    with np.errstate(over="ignore", invalid="ignore"):
        # z >= 0: ((1 + z)^lam - 1) / lam (log1p at lam = 0); z < 0: the mirror at 2 - lam.
        upper = np.log1p(up) if lam == 0 else np.expm1(lam * np.log1p(up)) / lam
        lower = -np.expm1((2.0 - lam) * np.log1p(-down)) / (2.0 - lam)
    return np.where(z >= 0, upper, lower)
