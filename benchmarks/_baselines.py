"""Reference systems for ``benchmarks/mimii.py``: the field's dense autoencoder, an IsolationForest.

Both take what :class:`~skaudio_ad.MelSpectrogramTransformer` returns, log-mel spectrograms in
dB of shape ``(n_clips, n_mels, n_frames)``, and follow scikit-learn's outlier conventions:
``score_samples`` higher = more normal, ``decision_function = score_samples - offset_``,
``predict`` +1 normal / -1 anomaly.

- :class:`DenseAutoencoderBaseline` reproduces the MIMII baseline (Purohit et al., DCASE 2019
  workshop; github.com/MIMII-hitachi/mimii_baseline, ``baseline.yaml``): 5 consecutive frames
  of 64 log-mel bins stacked into 320-dim vectors, a dense autoencoder 64-64-8-64-64 with ReLU
  (linear output), Keras' glorot-uniform weights and zero biases, Adam (learning rate 1e-3),
  MSE, 50 epochs, batch 512, shuffled, 10 % held out, no early stopping, no input scaling; the
  clip score is the mean over its vectors of the vector's mean squared error. The DCASE 2020
  baseline is the same recipe with a wider network (128 units, batch norm, 100 epochs); the
  brief (../shared/NOTES.md) fixes the MIMII network for both datasets.
- :func:`make_iforest_baseline`: IsolationForest on the per-clip mean over time of the log-mel
  bins, a strong baseline on clean real clips (../shared/NOTES.md).
"""

import functools
import numbers

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.ensemble import IsolationForest
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

__all__ = ["DenseAutoencoderBaseline", "make_iforest_baseline"]

#: Clips per scoring call; fixed so that a clip's score never depends on its neighbours.
_SCORE_CHUNK = 32


class _DenseAutoencoder(nnx.Module):
    """Dense layers with ReLU, a linear output of the input's size."""

    def __init__(self, n_inputs, hidden_units, *, rngs):
        # Keras' Dense defaults, which the baseline kept: glorot-uniform kernel, zero bias.
        init = nnx.initializers.xavier_uniform()
        sizes = [n_inputs, *hidden_units, n_inputs]
        self.layers = nnx.List([nnx.Linear(a, b, kernel_init=init, rngs=rngs)
                                for a, b in zip(sizes[:-1], sizes[1:], strict=True)])

    def __call__(self, x):
        for layer in self.layers[:-1]:
            x = nnx.relu(layer(x))
        return self.layers[-1](x)


@functools.lru_cache(maxsize=8)
def _compiled(n_mels, n_context, hidden_units, learning_rate):
    """Jitted training step and clip scoring for one network shape (cached across fits)."""
    n_inputs = n_mels * n_context
    graphdef, _ = nnx.split(_DenseAutoencoder(n_inputs, hidden_units, rngs=nnx.Rngs(0)))
    optimizer = optax.adam(learning_rate)

    def apply(params, vectors):
        return nnx.merge(graphdef, params)(vectors)

    def gather(X, clips, starts):
        # Frame-major vectors [frame t mels, frame t+1 mels, ...], the baseline's layout.
        def one(c, s):
            return jax.lax.dynamic_slice(X, (c, s, 0), (1, n_context, n_mels)).reshape(-1)

        return jax.vmap(one)(clips, starts)

    def loss_fn(params, vectors, mask):
        per_vector = jnp.mean((apply(params, vectors) - vectors) ** 2, axis=1)
        return jnp.sum(per_vector * mask) / jnp.maximum(jnp.sum(mask), 1.0)

    @functools.partial(jax.jit, donate_argnums=(0, 1))
    def train_step(params, opt_state, X, clips, starts, mask):
        loss, grads = jax.value_and_grad(loss_fn)(params, gather(X, clips, starts), mask)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    @jax.jit
    def clip_errors(params, X):
        n_vectors = X.shape[1] - n_context + 1
        vectors = jnp.concatenate([X[:, t : t + n_vectors] for t in range(n_context)], axis=-1)
        return jnp.mean((apply(params, vectors) - vectors) ** 2, axis=(1, 2))

    return graphdef, optimizer, train_step, clip_errors


class DenseAutoencoderBaseline(OutlierMixin, BaseEstimator):
    """The MIMII / DCASE dense autoencoder on stacked log-mel frames (JAX/Flax reproduction).

    ``decision_function = score_samples - offset_``, with ``offset_ = -(error_mean_ +
    threshold * error_std_)`` over the held-out normal clips, the rule and default k of
    :class:`~skaudio_ad.ConvAutoencoderDetector` (the baselines reported AUC only and set no
    threshold).

    Parameters
    ----------
    n_context : int >= 1, default=5
        Consecutive frames stacked into one input vector.
    hidden_units : tuple of int, default=(64, 64, 8, 64, 64)
        Widths of the hidden layers, all ReLU.
    learning_rate : float > 0, default=1e-3
        Adam's step size (Keras' default).
    batch_size : int >= 1, default=512
        Vectors per step; the last batch of an epoch is padded and masked.
    max_epochs : int >= 1, default=50
        Epochs trained; there is no early stopping, as in the baseline.
    validation_fraction : float in [0, 1), default=0.1
        Fraction of the clips held out (Keras' ``validation_split=0.1`` held out the last 10 %
        of the vectors, i.e. of the clips, since vectors were stacked clip by clip). Their
        errors set the threshold; with none held out, the training clips do.
    threshold : float, default=2.0
        k in "anomalous when the clip error > mean + k * std of normal clip errors".
    random_state : int, RandomState instance or None, default=None
        Seeds the weights, the held-out clips and the shuffling.

    Attributes
    ----------
    offset_, error_mean_, error_std_ : float
        The threshold and the statistics behind it.
    validation_indices_ : ndarray of int
        Rows of ``X`` held out.
    params_ : flax.nnx.State
        Trained weights, numpy leaves.
    history_ : list of dict
        ``epoch``, ``train_loss``, ``valid_loss`` (None without held-out clips).
    n_epochs_ : int
        Epochs trained.
    n_features_in_ : int
        Mel bins.
    """

    def __init__(
        self,
        *,
        n_context=5,
        hidden_units=(64, 64, 8, 64, 64),
        learning_rate=1e-3,
        batch_size=512,
        max_epochs=50,
        validation_fraction=0.1,
        threshold=2.0,
        random_state=None,
    ):
        self.n_context = n_context
        self.hidden_units = hidden_units
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.validation_fraction = validation_fraction
        self.threshold = threshold
        self.random_state = random_state

    def fit(self, X, y=None):
        """Train on normal clips ``X`` of shape (n_clips, n_mels, n_frames)."""
        for name in ("n_context", "batch_size", "max_epochs"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be an int >= 1; got {value!r}.")
        if not 0 <= self.validation_fraction < 1:
            raise ValueError(
                f"validation_fraction must be in [0, 1); got {self.validation_fraction!r}."
            )
        X = self._validate(X, reset=True)
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        rng = np.random.default_rng(seed)
        n_clips, n_frames, n_mels = X.shape
        n_valid = min(int(n_clips * self.validation_fraction), n_clips - 1)
        order = rng.permutation(n_clips)
        self.validation_indices_ = np.sort(order[:n_valid])
        X_train, X_valid = X[np.sort(order[n_valid:])], X[self.validation_indices_]

        hidden = tuple(int(h) for h in self.hidden_units)
        _, optimizer, train_step, _ = self._compiled
        model = _DenseAutoencoder(n_mels * self.n_context, hidden, rngs=nnx.Rngs(seed))
        params = nnx.state(model, nnx.Param)
        opt_state = optimizer.init(params)
        X_device = jax.device_put(X_train)
        n_vectors = n_frames - self.n_context + 1
        clips = np.repeat(np.arange(len(X_train), dtype=np.int32), n_vectors)
        starts = np.tile(np.arange(n_vectors, dtype=np.int32), len(X_train))
        B = self.batch_size
        n_batches = -(-len(clips) // B)
        mask = (np.arange(n_batches * B) < len(clips)).astype(np.float32).reshape(n_batches, B)
        self.history_ = []
        for epoch in range(self.max_epochs):
            perm = np.resize(rng.permutation(len(clips)), n_batches * B)
            batches = jax.device_put(
                list(zip(clips[perm].reshape(n_batches, B), starts[perm].reshape(n_batches, B),
                         mask, strict=True))
            )
            losses = []
            for c, s, m in batches:
                params, opt_state, loss = train_step(params, opt_state, X_device, c, s, m)
                losses.append(loss)
            train_loss = float(np.dot(np.asarray(jnp.stack(losses)), mask.sum(axis=1))
                               / len(clips))
            if not np.isfinite(train_loss):
                raise FloatingPointError(
                    f"training diverged at epoch {epoch + 1} (loss {train_loss}); try a "
                    f"smaller learning_rate than {self.learning_rate}."
                )
            self.params_ = params
            valid_loss = float(self._errors(X_valid).mean()) if n_valid else None
            self.history_.append(
                {"epoch": epoch + 1, "train_loss": train_loss, "valid_loss": valid_loss}
            )
        self.params_ = jax.tree.map(np.asarray, params)
        self.n_epochs_ = self.max_epochs
        errors = self._errors(X_valid if n_valid else X_train)
        self.n_calibration_clips_ = len(errors)
        self.error_mean_ = float(errors.mean())
        self.error_std_ = float(errors.std(ddof=1)) if len(errors) > 1 else 0.0
        self.offset_ = -(self.error_mean_ + self.threshold * self.error_std_)
        return self

    def score_samples(self, X):
        """Minus the clip's mean vector reconstruction error: higher is more normal."""
        check_is_fitted(self)
        return -self._errors(self._validate(X, reset=False))

    def decision_function(self, X):
        """``score_samples(X) - offset_``: negative for anomalies."""
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """+1 normal, -1 anomaly."""
        return np.where(self.decision_function(X) < 0, -1, 1)

    # ------------------------------------------------------------------ helpers

    @property
    def _compiled(self):
        return _compiled(int(self.n_features_in_), int(self.n_context),
                         tuple(int(h) for h in self.hidden_units), float(self.learning_rate))

    def _validate(self, X, *, reset):
        """``X`` as float32 ``(n_clips, n_frames, n_mels)``, time-major and contiguous."""
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 3:
            raise ValueError(
                f"Expected log-mel spectrograms of shape (n_clips, n_mels, n_frames); got "
                f"shape {X.shape}."
            )
        if not np.isfinite(X).all():
            raise ValueError("X contains NaN or inf.")
        if X.shape[2] < self.n_context:
            raise ValueError(
                f"Clips have {X.shape[2]} frames, fewer than n_context={self.n_context}."
            )
        if reset:
            self.n_features_in_ = X.shape[1]
        elif X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} mel bins; this model was fitted on {self.n_features_in_}."
            )
        return np.ascontiguousarray(X.transpose(0, 2, 1))

    def _errors(self, X):
        """Mean vector error of each time-major clip, float64."""
        _, _, _, clip_errors = self._compiled
        params = self.params_
        out = np.empty(len(X))
        for lo in range(0, len(X), _SCORE_CHUNK):
            chunk = X[lo : lo + _SCORE_CHUNK]
            n = len(chunk)
            if n < _SCORE_CHUNK:
                chunk = np.concatenate([chunk, np.zeros((_SCORE_CHUNK - n, *chunk.shape[1:]),
                                                        chunk.dtype)])
            out[lo : lo + n] = np.asarray(clip_errors(params, chunk))[:n]
        return out


def _mean_over_time(X):
    return np.asarray(X).mean(axis=2)


def make_iforest_baseline(random_state=None):
    """IsolationForest on each clip's mean log-mel spectrum (the mean over time of the bins).

    The threshold is IsolationForest's own ``offset_`` (``contamination="auto"``: -0.5, i.e.
    anomaly score 0.5), read from the pipeline's last step.
    """
    return Pipeline([
        ("mean_over_time", FunctionTransformer(_mean_over_time)),
        ("iforest", IsolationForest(random_state=random_state)),
    ])
