"""Clip-level evidence beside the reconstruction error, and how the pieces are combined.

Pure numpy, no scikit-learn. Every evidence is a per-clip number, higher = more anomalous:

- ``"error"``: the clip's mean squared reconstruction error (one-sided: only too-high error).
- ``"profile"``: distance of the clip's per-mel-bin error profile (log of the time-mean error
  of each bin) to its nearest normal profiles. Two-sided: a clip that reconstructs unusually
  *well* in some bins (a valve whose anomaly is a missing transient) is also far.
- ``"spectrum"``: distance of the clip's standardised spectral statistics (time mean and
  standard deviation of every mel bin) to its nearest normal clips, the strongest simple
  baseline on real recordings (../shared/NOTES.md).

Each evidence is standardised by the mean and standard deviation of its out-of-fold values on
the normal training clips (no clip scores itself) and the standardised values are summed.
"""

import numpy as np

__all__ = ["EVIDENCE", "knn_distance", "profile", "spectral_statistics"]

#: The evidence of each ``evidence=`` option of the detector, in the order they are stored.
EVIDENCE = {"reconstruction": ("error",), "combined": ("error", "profile", "spectrum")}

#: Neighbours averaged by the k-nearest-neighbour distances (the kNN baseline's k).
N_NEIGHBORS = 5

#: Floor of the per-bin error before its log (errors of standardised features are O(1)).
PROFILE_FLOOR = 1e-6


def profile(maps):
    """Log time-mean error per channel, ``(n_clips, n_channels)``, of error maps ``(n, t, c)``."""
    return np.log(np.maximum(maps.mean(axis=1), PROFILE_FLOOR))


def spectral_statistics(X):
    """Time mean and standard deviation per channel of standardised clips ``(n, t, c)``."""
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
