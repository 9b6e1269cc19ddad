"""Flax NNX convolutional autoencoders over log-mel patches.

Pure JAX/Flax: nothing here knows about scikit-learn. A patch is laid out time-major,
``(batch, patch_frames, n_channels)`` with the mel bins as channels.

Downsampling is space-to-depth followed by a stride-1 convolution, and upsampling is a
stride-1 convolution followed by depth-to-space (pixel shuffle). On XLA:CPU the gradients of
strided and transposed convolutions are 2-10x slower than this equivalent (../shared/NOTES.md).
"""

from dataclasses import dataclass

import jax.numpy as jnp
from flax import nnx

__all__ = ["NetworkConfig", "build_network"]

#: Each level halves the time axis (and the mel axis for the 2-D network).
N_LEVELS = 2


@dataclass(frozen=True)
class NetworkConfig:
    """Everything that fixes the network's shapes (hashable: keys the compiled-step cache)."""

    architecture: str  # a key of ARCHITECTURES
    n_channels: int  # mel bins (or features of 2-D input)
    patch_frames: int
    latent_dim: int
    hidden_channels: int
    kernel_size: int = 3
    #: Frames in the centre of each patch hidden from the network and predicted from the
    #: frames around them (the interpolation target); 0 reconstructs the whole patch.
    masked_frames: int = 0
    #: "mse": the network outputs the patch; "gaussian": a mean and a log-variance per value
    #: (a heteroskedastic head: twice the channels), trained by the Gaussian likelihood.
    loss: str = "mse"

    @property
    def out_channels(self):
        """Channels of the network's output (the mean, and the log-variance if any)."""
        return self.n_channels * (2 if self.loss == "gaussian" else 1)

    @property
    def target_window(self):
        """``(first, length)``: the frames of a patch that its error is measured on."""
        if self.masked_frames == 0:
            return 0, self.patch_frames
        return (self.patch_frames - self.masked_frames) // 2, self.masked_frames


def _round_up(n, multiple):
    return -(-n // multiple) * multiple


def _pad_axis(x, axis, size):
    """Edge-pad ``x`` along ``axis`` up to ``size`` (no-op when already that long)."""
    extra = size - x.shape[axis]
    if extra == 0:
        return x
    widths = [(0, 0)] * x.ndim
    widths[axis] = (0, extra)
    return jnp.pad(x, widths, mode="edge")


def _space_to_depth_1d(x):
    b, t, c = x.shape
    return x.reshape(b, t // 2, 2 * c)


def _depth_to_space_1d(x):
    b, t, c = x.shape
    return x.reshape(b, 2 * t, c // 2)


def _space_to_depth_2d(x):
    b, t, m, c = x.shape
    x = x.reshape(b, t // 2, 2, m // 2, 2, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, t // 2, m // 2, 4 * c)


def _depth_to_space_2d(x):
    b, t, m, c = x.shape
    x = x.reshape(b, t, m, 2, 2, c // 4).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, 2 * t, 2 * m, c // 4)


class ConvAutoencoder1d(nnx.Module):
    """1-D convolutions over time with the mel bins as channels, a dense bottleneck.

    encoder: conv(C -> h) | [space-to-depth, conv(2h -> h)] x 2 | dense -> latent (linear)
    decoder: dense -> (T/4, h) | [conv(h -> 2h), depth-to-space] x 2 | conv(h -> C) (linear)
    """

    def __init__(self, config: NetworkConfig, *, rngs: nnx.Rngs):
        c, h, k = config.n_channels, config.hidden_channels, config.kernel_size
        self.padded_frames = _round_up(config.patch_frames, 2**N_LEVELS)
        self.code_frames = self.padded_frames // 2**N_LEVELS
        self.hidden = h
        self.stem = nnx.Conv(c, h, k, rngs=rngs)
        self.down = nnx.List([nnx.Conv(2 * h, h, k, rngs=rngs) for _ in range(N_LEVELS)])
        self.encode = nnx.Linear(self.code_frames * h, config.latent_dim, rngs=rngs)
        self.decode = nnx.Linear(config.latent_dim, self.code_frames * h, rngs=rngs)
        self.up = nnx.List([nnx.Conv(h, 2 * h, k, rngs=rngs) for _ in range(N_LEVELS)])
        self.head = nnx.Conv(h, config.out_channels, k, rngs=rngs)

    def codes(self, x):
        """The bottleneck codes ``(b, latent_dim)`` of patches ``x``."""
        z = nnx.relu(self.stem(_pad_axis(x, 1, self.padded_frames)))
        for conv in self.down:
            z = nnx.relu(conv(_space_to_depth_1d(z)))
        return self.encode(z.reshape(z.shape[0], -1))

    def __call__(self, x):
        n_frames = x.shape[1]
        code = self.codes(x)
        z = nnx.relu(self.decode(code)).reshape(-1, self.code_frames, self.hidden)
        for conv in self.up:
            z = _depth_to_space_1d(nnx.relu(conv(z)))
        return self.head(z)[:, :n_frames]


class ConvAutoencoder2d(nnx.Module):
    """2-D convolutions over (time x mel) patches, a dense bottleneck.

    Channel widths are ``hidden_channels // 4`` after the stem and ``hidden_channels // 2``
    below, so that its cost is comparable with the 1-D network of the same ``hidden_channels``.
    """

    def __init__(self, config: NetworkConfig, *, rngs: nnx.Rngs):
        k = (config.kernel_size, config.kernel_size)
        h0 = max(config.hidden_channels // 4, 1)
        h = max(config.hidden_channels // 2, 1)
        self.padded_frames = _round_up(config.patch_frames, 2**N_LEVELS)
        self.padded_mels = _round_up(config.n_channels, 2**N_LEVELS)
        self.code_shape = (
            self.padded_frames // 2**N_LEVELS,
            self.padded_mels // 2**N_LEVELS,
            h,
        )
        code_size = self.code_shape[0] * self.code_shape[1] * h
        self.stem = nnx.Conv(1, h0, k, rngs=rngs)
        self.down = nnx.List(
            [nnx.Conv(4 * h0, h, k, rngs=rngs), nnx.Conv(4 * h, h, k, rngs=rngs)]
        )
        self.encode = nnx.Linear(code_size, config.latent_dim, rngs=rngs)
        self.decode = nnx.Linear(config.latent_dim, code_size, rngs=rngs)
        self.up = nnx.List([nnx.Conv(h, 4 * h, k, rngs=rngs), nnx.Conv(h, 4 * h0, k, rngs=rngs)])
        self.head = nnx.Conv(h0, config.out_channels // config.n_channels, k, rngs=rngs)

    def __call__(self, x):
        n_frames, n_mels = x.shape[1], x.shape[2]
        x = _pad_axis(_pad_axis(x, 1, self.padded_frames), 2, self.padded_mels)
        z = nnx.relu(self.stem(x[..., None]))
        for conv in self.down:
            z = nnx.relu(conv(_space_to_depth_2d(z)))
        code = self.encode(z.reshape(z.shape[0], -1))
        z = nnx.relu(self.decode(code)).reshape(-1, *self.code_shape)
        for conv in self.up:
            z = _depth_to_space_2d(nnx.relu(conv(z)))
        out = self.head(z)[:, :n_frames, :n_mels]
        # (b, t, m, 1 or 2) -> (b, t, m or 2m): the mean's bins, then the log-variance's.
        return jnp.concatenate([out[..., j] for j in range(out.shape[-1])], axis=-1)


class DenseAutoencoder(nnx.Module):
    """Dense layers over the flattened patch: the MIMII / DCASE 2020 baseline's network.

    ``patch_frames * n_channels -> h -> h -> latent -> h -> h -> patch_frames * n_channels``,
    ReLU on every hidden layer (the bottleneck included, as in the baseline) and a linear output;
    with ``patch_frames=5``, 64 mels, ``hidden_channels=64`` and ``latent_dim=8`` it is the
    MIMII baseline's 64-64-8-64-64 (Purohit et al., DCASE 2019 workshop).
    """

    def __init__(self, config: NetworkConfig, *, rngs: nnx.Rngs):
        n_inputs = config.patch_frames * config.n_channels
        h = config.hidden_channels
        n_outputs = config.patch_frames * config.out_channels
        sizes = [n_inputs, h, h, config.latent_dim, h, h, n_outputs]
        self.layers = nnx.List(
            [nnx.Linear(a, b, rngs=rngs) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
        )

    def __call__(self, x):
        shape = x.shape
        z = x.reshape(shape[0], -1)
        for layer in self.layers[:-1]:
            z = nnx.relu(layer(z))
        return self.layers[-1](z).reshape(*shape[:-1], -1)


ARCHITECTURES = {
    "conv1d": ConvAutoencoder1d,
    "conv2d": ConvAutoencoder2d,
    "dense": DenseAutoencoder,
}


def build_network(config: NetworkConfig, seed_key) -> nnx.Module:
    """Instantiate the network of ``config`` with parameters drawn from ``seed_key``."""
    return ARCHITECTURES[config.architecture](config, rngs=nnx.Rngs(params=seed_key))
