"""Reference systems for the quality benchmarks, all on log-mel dB ``(n_clips, n_mels, n_frames)``.

Every system follows scikit-learn's outlier conventions (``score_samples`` higher = more
normal, ``predict`` +1 / -1); the simple ones threshold at mean + 2 std of their training
clips' scores, the rule of :class:`~skaudio_ad.ConvAutoencoderDetector`.

- ``iforest``: IsolationForest on the clip mean over time of the log-mel bins.
- ``knn``: mean Euclidean distance to the 5 nearest training clips, on the clip mean and
  standard deviation over time of the log-mel bins in dB (unscaled).
- ``gmm``: Gaussian mixture (8 diagonal components) on standardised frames; the clip score is
  the mean log-likelihood of its frames.
- ``pca``: PCA (95 % of the variance) on standardised frames; the clip score is minus the mean
  squared reconstruction error of its frames.
- ``dense``: the MIMII / DCASE 2020 baseline autoencoder (64-64-8-64-64 on 5 frames x 64 mels,
  50 epochs, batch 512, Adam 1e-3, clip score = mean error), built from the package's own
  training core: ``ConvAutoencoderDetector(architecture="dense", patch_frames=5, ...)``. Unlike
  the original it standardises each mel bin (the detector always does).
- ``old-default``: ``ConvAutoencoderDetector`` as released in 0.1 (reconstruction error only,
  early stopping and calibration on 10 % held-out clips).
- ``default``: ``ConvAutoencoderDetector(random_state=seed)`` as it is now (with
  ``memory=MEMORY`` when the script sets it, so that the next system reuses its networks).
- ``profile-only``: the default's networks scored by the error-profile distance alone
  (``evidence="profile-only"``).
- ``tprofile``, ``tprofile-only``: candidates (:class:`TemporalProfileDetector`): the error
  profile extended by each band's spread of log error over time, beside the mean error or
  alone; not kept.
- ``combined``: the previous default, the same networks scored with the spectral evidence
  too (``evidence="combined"``).
- ``untransformed``: the default before that, the same networks with ``evidence="combined"``
  and without the score transform (``score_transform=None``).
- ``unscaled-profile``: the default before that, the same networks scored with unstandardised
  error profiles (:class:`UnscaledProfileDetector`), ``evidence="combined"`` and no score
  transform.
- ``interpolation``: the default with ``target="interpolation"``.
- ``latent``, ``latent-code``, ``latent-full``, ``latent-full-code``: candidates
  (:class:`LatentProfileDetector` and its subclasses): the mean and spread over patches of
  the network's bottleneck codes join the error profile (or replace it: ``-code``), from the
  fold networks for the training clips or (``-full``) from the full network for every clip;
  not kept.
- ``gaussian``: the default with ``loss="gaussian"`` (a predicted variance per value,
  trained by the Gaussian likelihood).
- ``qprofile``: candidate (:class:`QuantileProfileDetector`): the 10th, 50th, 90th
  percentile and maximum of the clip's frame errors join the profile; not kept.
- ``hybrid``, ``hybrid-both``, ``hybrid-plain``: candidates (:class:`HybridGaussianDetector`
  and its subclasses): the ``gaussian`` networks scored by the plain squared error of the
  predicted mean, the variance-scaled one, or both; not kept.
- ``loss-ensemble``: candidate (:class:`LossEnsembleDetector`): the default's and the
  ``gaussian`` network, standardised scores summed; not kept.
"""

import functools

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import NearestNeighbors

from skaudio_ad import ConvAutoencoderDetector

__all__ = ["SYSTEMS", "DenseAutoencoderBaseline", "make_iforest_baseline"]


class _ClipBaseline(OutlierMixin, BaseEstimator):
    """Shared shell: ``_fit(X)`` and ``_score(X)`` on 3-D log-mel, threshold mean + k std."""

    threshold = 2.0

    def fit(self, X, y=None):
        X = np.asarray(X, dtype=np.float64)
        self._fit(X)
        train = self._score(X)
        self.offset_ = float(train.mean() - self.threshold * train.std(ddof=1))
        return self

    def score_samples(self, X):
        return self._score(np.asarray(X, dtype=np.float64))

    def decision_function(self, X):
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        return np.where(self.decision_function(X) < 0, -1, 1)


class IForestBaseline(_ClipBaseline):
    def __init__(self, random_state=None):
        self.random_state = random_state

    def _fit(self, X):
        self.model_ = IsolationForest(random_state=self.random_state).fit(X.mean(axis=2))

    def _score(self, X):
        return self.model_.score_samples(X.mean(axis=2))


class KNNBaseline(_ClipBaseline):
    def __init__(self, n_neighbors=5):
        self.n_neighbors = n_neighbors

    @staticmethod
    def _stats(X):
        return np.concatenate([X.mean(axis=2), X.std(axis=2)], axis=1)

    def _fit(self, X):
        self.train_ = self._stats(X)
        self.model_ = NearestNeighbors().fit(self.train_)

    def _score(self, X):
        k = min(self.n_neighbors, len(self.train_))
        stats = self._stats(X)
        distance, _ = self.model_.kneighbors(stats, n_neighbors=k)
        return -distance.mean(axis=1)

    def fit(self, X, y=None):
        super().fit(X)
        # Training clips find themselves at distance 0: threshold on leave-one-out distances.
        k = min(self.n_neighbors + 1, len(self.train_))
        distance, _ = self.model_.kneighbors(self.train_, n_neighbors=k)
        train = -distance[:, 1:].mean(axis=1)
        self.offset_ = float(train.mean() - self.threshold * train.std(ddof=1))
        return self


def _frames(X):
    return X.transpose(0, 2, 1).reshape(-1, X.shape[1])


class GMMBaseline(_ClipBaseline):
    def __init__(self, n_components=8, random_state=None):
        self.n_components = n_components
        self.random_state = random_state

    def _fit(self, X):
        frames = _frames(X)
        self.mean_, self.scale_ = frames.mean(axis=0), np.maximum(frames.std(axis=0), 1e-6)
        self.model_ = GaussianMixture(
            self.n_components, covariance_type="diag", random_state=self.random_state
        ).fit((frames - self.mean_) / self.scale_)

    def _score(self, X):
        frames = (_frames(X) - self.mean_) / self.scale_
        return self.model_.score_samples(frames).reshape(len(X), -1).mean(axis=1)


class PCABaseline(_ClipBaseline):
    def __init__(self, n_components=0.95):
        self.n_components = n_components

    def _fit(self, X):
        frames = _frames(X)
        self.mean_, self.scale_ = frames.mean(axis=0), np.maximum(frames.std(axis=0), 1e-6)
        self.model_ = PCA(self.n_components, svd_solver="full").fit(
            (frames - self.mean_) / self.scale_)

    def _score(self, X):
        frames = (_frames(X) - self.mean_) / self.scale_
        rebuilt = self.model_.inverse_transform(self.model_.transform(frames))
        return -((rebuilt - frames) ** 2).mean(axis=1).reshape(len(X), -1).mean(axis=1)


def DenseAutoencoderBaseline(  # noqa: N802 - a factory standing in for the old class
    *, n_context=5, hidden_units=64, latent_dim=8, batch_size=512, max_epochs=50,
    learning_rate=1e-3, random_state=None, **params,
):
    """The MIMII / DCASE dense autoencoder baseline from the package's training core."""
    return ConvAutoencoderDetector(
        architecture="dense", patch_frames=n_context, hidden_channels=hidden_units,
        latent_dim=latent_dim, batch_size=batch_size, max_epochs=max_epochs,
        learning_rate=learning_rate, random_state=random_state, **_BASELINE_RECIPE, **params,
    )


#: What keeps the package's detector on the MIMII baseline's recipe (see the module docstring).
_BASELINE_RECIPE = {"evidence": "reconstruction", "score_transform": None, "n_folds": 1,
                    "validation_fraction": 0.1, "max_steps": None, "patience": 10**6}


def make_iforest_baseline(random_state=None):
    return IForestBaseline(random_state=random_state)


class UnscaledProfileDetector(ConvAutoencoderDetector):
    """The default before the error profiles were standardised per mel bin (raw log errors).

    Trains the same networks as the default (``memory`` shares them); only the kNN distance
    of the error profiles differs.
    """

    def _scaled_profiles(self, profiles):
        return profiles

    def _reference_profile_distances(self):
        from skaudio_ad import _evidence

        return _evidence.knn_distance(self.profile_reference_)


class TemporalProfileDetector(ConvAutoencoderDetector):
    """Candidate: the error profile also holds each mel bin's spread of log error over time.

    The profile is ``(log time-mean error, time std of log error)`` per bin, ``2 n_mels``
    values, so that a clip whose error comes in bursts (a transient) or is unusually steady
    is far from the normal profiles even when its mean error is not. Same networks as the
    default (``memory`` shares them); scoring only.
    """

    def _evidence(self, params, X):
        from skaudio_ad import _evidence, _training

        maps = _training.error_maps(self._config, params, X, self._hop, self._layout)
        logs = np.log(np.maximum(maps, _evidence.PROFILE_FLOOR))
        profiles = np.concatenate([_evidence.profile(maps), logs.std(axis=1)], axis=1)
        return maps.mean(axis=(1, 2))[:, None], profiles

    def _validate_state(self):
        pass  # the profile has 2 n_mels columns, which the package's check does not expect


class QuantileProfileDetector(ConvAutoencoderDetector):
    """Candidate: the log 10th, 50th, 90th percentile and maximum of the clip's frame errors
    join the per-bin profile (each a column standardised like a mel bin).

    The profile then also sees *when* the error is, not only where in frequency: a valve
    whose anomaly is a stronger or a missing transient changes the upper quantiles of its
    frame errors. Same networks as the default (``memory`` shares them); scoring only.
    """

    def _evidence(self, params, X):
        from skaudio_ad import _evidence, _training

        frames, profiles = _training.frame_errors_and_profiles(
            self._config, params, X, self._hop, self._layout
        )
        profiles = _evidence.profile(profiles[:, None, :])
        quantiles = np.quantile(frames, [0.1, 0.5, 0.9, 1.0], axis=1).T
        quantiles = np.log(np.maximum(quantiles, _evidence.PROFILE_FLOOR))
        return frames.mean(axis=1)[:, None], np.concatenate([profiles, quantiles], axis=1)

    def _validate_state(self):
        pass  # the profile has extra columns, which the package's check does not expect


@functools.lru_cache(maxsize=8)
def _encoder(config):
    """Jitted conv1d encoder of one network shape: patches ``(b, T, c)`` -> codes."""
    import jax
    from flax import nnx

    from skaudio_ad import _training

    graphdef = _training.inference(config).graphdef
    return jax.jit(lambda params, patches: nnx.merge(graphdef, params).codes(patches))


class LatentProfileDetector(ConvAutoencoderDetector):
    """Candidate: the clip's bottleneck codes (mean and std over its patches) join the profile.

    The profile kNN then also measures how far the clip's *embedding* is from the normal
    clips' (each code dimension standardised like a mel bin): the autoencoder used as a
    learned feature extractor, two-sided by construction. Same networks as the default
    (``memory`` shares them); scoring only; conv1d only.
    """

    def _evidence(self, params, X, code_params=None):
        from skaudio_ad import _training

        errors, profiles = super()._evidence(params, X)
        encode = _encoder(self._config)
        params = params if code_params is None else code_params
        codes = []
        for _, n, batches, n_real in _training._patch_batches(
            X, self._config.patch_frames, self._hop
        ):
            c = np.concatenate([np.asarray(encode(params, b)) for b in batches])[:n_real]
            codes.append(c.astype(np.float64).reshape(n, -1, c.shape[1]))
        codes = np.concatenate(codes)
        parts = [codes.mean(axis=1), codes.std(axis=1)]
        if getattr(self, "latent_only", False):
            return errors, np.concatenate(parts, axis=1)
        return errors, np.concatenate([profiles, *parts], axis=1)

    def _validate_state(self):
        pass  # the profile has extra columns, which the package's check does not expect


class LatentOnlyDetector(LatentProfileDetector):
    """Candidate: as :class:`LatentProfileDetector`, the codes alone in the profile."""

    latent_only = True


class LatentFullDetector(LatentProfileDetector):
    """Candidate: as :class:`LatentProfileDetector`, every clip's codes from the full network.

    The out-of-fold profiles of the training clips come from five fold networks, each with
    its own latent space (other initial weights), while new clips are encoded by the full
    network: here the codes of every clip, training clips included, come from the full
    network, so that one latent space is compared (the training clips' codes in sample).
    """

    def _evidence(self, params, X):
        return super()._evidence(params, X, code_params=self._device_params())


class LatentFullOnlyDetector(LatentFullDetector):
    """Candidate: as :class:`LatentFullDetector`, the codes alone in the profile."""

    latent_only = True


@functools.lru_cache(maxsize=8)
def _gaussian_profiles(config):
    """Jitted: patches ``(b, T, c)`` -> the patch-mean plain squared error of the predicted
    mean and the patch-mean variance-scaled one, each ``(b, c)`` (``loss="gaussian"`` only)."""
    import jax
    import jax.numpy as jnp

    from skaudio_ad import _training

    graphdef = _training.inference(config).graphdef

    def both(params, patches):
        out, target = _training._target_outputs(graphdef, config, params, patches)
        mean, log_var = _training._gaussian_head(out, config.n_channels)
        squared = (mean - target) ** 2
        return jnp.mean(squared, axis=1), jnp.mean(jnp.exp(-log_var) * squared, axis=1)

    return jax.jit(both)


class HybridGaussianDetector(ConvAutoencoderDetector):
    """Candidate: a ``loss="gaussian"`` network scored by both of its errors.

    The variance-scaled error (the ``gaussian`` system's evidence) discounts what the network
    expects to be unpredictable, a background's fluctuations, and won on noisy clips; the
    plain squared error of the predicted mean (the default's kind of evidence) won on clean
    ones. ``hybrid`` says which goes where: ``"plain-error"``, the one-sided error is the
    plain one and the profile the scaled one; ``"both-profile"``, the scaled error and a
    profile of both (``2 n_mels`` columns); ``"plain"``, both plain (the gaussian network
    scored as a squared-error one). Same networks as ``gaussian`` (``memory`` shares them);
    scoring only.
    """

    hybrid = "plain-error"

    def _evidence(self, params, X):
        from skaudio_ad import _evidence, _training

        fn = _gaussian_profiles(self._config)
        plain, scaled = [], []
        for _, n, batches, n_real in _training._patch_batches(
            X, self._config.patch_frames, self._hop
        ):
            outs = [fn(params, b) for b in batches]
            for part, i in ((plain, 0), (scaled, 1)):
                c = np.concatenate([np.asarray(o[i]) for o in outs])[:n_real]
                part.append(c.astype(np.float64).reshape(n, -1, c.shape[1]).mean(axis=1))
        plain, scaled = np.concatenate(plain), np.concatenate(scaled)
        if self.hybrid == "plain-error":
            error, profiles = plain, _evidence.profile(scaled[:, None, :])
        elif self.hybrid == "plain":
            error, profiles = plain, _evidence.profile(plain[:, None, :])
        else:  # "both-profile"
            error = scaled
            profiles = _evidence.profile(np.concatenate([scaled, plain], axis=1)[:, None, :])
        return error.mean(axis=1)[:, None], profiles

    def _validate_state(self):
        pass  # the both-profile has 2 n_mels columns, which the package's check does not expect


class HybridBothDetector(HybridGaussianDetector):
    """Candidate: :class:`HybridGaussianDetector` with ``hybrid = "both-profile"``."""

    hybrid = "both-profile"


class HybridPlainDetector(HybridGaussianDetector):
    """Candidate: :class:`HybridGaussianDetector` with ``hybrid = "plain"``."""

    hybrid = "plain"


class _RecordingDetector(ConvAutoencoderDetector):
    """The detector, keeping the normal clips' (out-of-fold) calibration scores."""

    def _calibrate(self, *args, **kwargs):
        self._recording = True
        try:
            super()._calibrate(*args, **kwargs)
        finally:
            self._recording = False

    def _transform_scores(self, scores):
        out = super()._transform_scores(scores)
        if getattr(self, "_recording", False):
            self.calibration_scores_ = out
        return out


class LossEnsembleDetector(_ClipBaseline):
    """Candidate: the default's network and a ``loss="gaussian"`` one, scores summed.

    The two won in different conditions (squared error clean, the variance-scaled error
    noisy). Each member's clip score is standardised by the mean and standard deviation of
    its out-of-fold normal scores, the two are summed, and the threshold is mean + k std of
    the summed out-of-fold scores of the same clips (both members draw the same folds from
    one ``random_state``). Costs two trainings; ``memory`` shares both members' networks
    with the ``default`` and ``gaussian`` systems.
    """

    def __init__(self, random_state=None, memory=None, threshold=2.0):
        self.random_state = random_state
        self.memory = memory
        self.threshold = threshold

    def fit(self, X, y=None):
        self.members_ = [
            _RecordingDetector(random_state=self.random_state, memory=self.memory, loss=loss)
            for loss in ("mse", "gaussian")
        ]
        for member in self.members_:
            member.fit(X)
        oof = [m.calibration_scores_ for m in self.members_]
        if len(set(map(len, oof))) != 1:
            raise ValueError("the members calibrated on different clips")
        self.scales_ = [(s.mean(), s.std(ddof=1)) for s in oof]
        train = self._anomaly(oof)
        self.offset_ = -float(train.mean() + self.threshold * train.std(ddof=1))
        return self

    def _anomaly(self, scores):
        return sum((s - mean) / std for s, (mean, std) in zip(scores, self.scales_, strict=True))

    def score_samples(self, X):
        return -self._anomaly([-m.score_samples(X) for m in self.members_])


def _old_default(seed):
    return ConvAutoencoderDetector(random_state=seed, **OLD_DEFAULT)


#: The parameters that restore the 0.1 release's behaviour on top of the current defaults.
OLD_DEFAULT = {"evidence": "reconstruction", "n_folds": 1, "validation_fraction": 0.1,
               "max_steps": None, "score_transform": None}

#: Where ``default`` leaves its trained networks for ``combined``, ``untransformed`` and
#: ``unscaled-profile`` (set by the benchmark script; None trains each).
MEMORY = None

SYSTEMS = {
    "default": lambda seed: ConvAutoencoderDetector(random_state=seed, memory=MEMORY),
    # Candidates and the previous defaults, on the default's networks (from ``MEMORY``).
    "profile-only": lambda seed: ConvAutoencoderDetector(
        random_state=seed, memory=MEMORY, evidence="profile-only"),
    "tprofile": lambda seed: TemporalProfileDetector(random_state=seed, memory=MEMORY),
    "tprofile-only": lambda seed: TemporalProfileDetector(
        random_state=seed, memory=MEMORY, evidence="profile-only"),
    "combined": lambda seed: ConvAutoencoderDetector(
        random_state=seed, memory=MEMORY, evidence="combined"),
    "untransformed": lambda seed: ConvAutoencoderDetector(
        random_state=seed, memory=MEMORY, evidence="combined", score_transform=None),
    "unscaled-profile": lambda seed: UnscaledProfileDetector(
        random_state=seed, memory=MEMORY, evidence="combined", score_transform=None),
    "interpolation": lambda seed: ConvAutoencoderDetector(
        random_state=seed, target="interpolation"),
    "latent": lambda seed: LatentProfileDetector(random_state=seed, memory=MEMORY),
    "latent-code": lambda seed: LatentOnlyDetector(random_state=seed, memory=MEMORY),
    "gaussian": lambda seed: ConvAutoencoderDetector(
        random_state=seed, memory=MEMORY, loss="gaussian"),
    "qprofile": lambda seed: QuantileProfileDetector(random_state=seed, memory=MEMORY),
    "latent-full": lambda seed: LatentFullDetector(random_state=seed, memory=MEMORY),
    "latent-full-code": lambda seed: LatentFullOnlyDetector(random_state=seed, memory=MEMORY),
    "hybrid": lambda seed: HybridGaussianDetector(
        random_state=seed, loss="gaussian", memory=MEMORY),
    "hybrid-both": lambda seed: HybridBothDetector(
        random_state=seed, loss="gaussian", memory=MEMORY),
    "hybrid-plain": lambda seed: HybridPlainDetector(
        random_state=seed, loss="gaussian", memory=MEMORY),
    "loss-ensemble": lambda seed: LossEnsembleDetector(random_state=seed, memory=MEMORY),
    "old-default": _old_default,
    # Candidates measured on the way to the default (benchmarks/results/quality.md).
    "reconstruction-oof": lambda seed: ConvAutoencoderDetector(
        random_state=seed, evidence="reconstruction"),
    "combined-long": lambda seed: ConvAutoencoderDetector(random_state=seed, max_epochs=1000),
    "iforest": lambda seed: IForestBaseline(random_state=seed),
    "knn": lambda seed: KNNBaseline(),
    "gmm": lambda seed: GMMBaseline(random_state=seed),
    "pca": lambda seed: PCABaseline(),
    "dense": lambda seed: DenseAutoencoderBaseline(random_state=seed),
}
