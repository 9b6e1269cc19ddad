"""Training speed: the default ConvAutoencoderDetector beside the same network in PyTorch eager.

Same layers (the PyTorch model mirrors ``skaudio_ad._network.ConvAutoencoder1d`` and starts
from a copy of the JAX initial weights), same batch size, Adam with the same learning rate,
the same standardised patches in the same order. Prints epoch time and samples/s of both,
then, unless ``--quick``, the end-to-end ``Pipeline([mel, detector]).fit`` on 1,000 ten-second
clips (defaults, early stopping on) with its peak RSS, and scoring throughput (features
included). The last line is ``speedup_vs_pytorch=<float>``.

Usage: python benchmarks/bench_training.py [--quick] [--clips 256] [--epochs 5]
Needs the ``bench`` extra (torch, psutil).
"""

import argparse
import os
import platform
import resource
import time

import jax
import numpy as np
import torch

from skaudio_ad import ConvAutoencoderDetector, _streaming
from skaudio_ad import _training as core

N_MELS, N_FRAMES = 64, 313  # a ten-second clip at 16 kHz, hop 512


class TorchConvAutoencoder1d(torch.nn.Module):
    """``ConvAutoencoder1d`` in PyTorch, channels-first ``(batch, n_mels, frames)``."""

    def __init__(self, config):
        super().__init__()
        c, h, k = config.n_channels, config.hidden_channels, config.kernel_size
        self.frames = config.patch_frames
        self.code_frames, self.hidden = config.patch_frames // 4, h

        def conv(a, b):
            return torch.nn.Conv1d(a, b, k, padding=k // 2)

        self.stem = conv(c, h)
        self.down = torch.nn.ModuleList([conv(2 * h, h) for _ in range(2)])
        self.encode = torch.nn.Linear(self.code_frames * h, config.latent_dim)
        self.decode = torch.nn.Linear(config.latent_dim, self.code_frames * h)
        self.up = torch.nn.ModuleList([conv(h, 2 * h) for _ in range(2)])
        self.head = conv(h, c)

    @staticmethod
    def space_to_depth(x):  # (B, C, T) -> (B, 2C, T/2), channel (t % 2) * C + c as in JAX
        b, c, t = x.shape
        return x.view(b, c, t // 2, 2).permute(0, 3, 1, 2).reshape(b, 2 * c, t // 2)

    @staticmethod
    def depth_to_space(x):  # (B, 2C, T) -> (B, C, 2T)
        b, c2, t = x.shape
        return x.view(b, 2, c2 // 2, t).permute(0, 2, 3, 1).reshape(b, c2 // 2, 2 * t)

    def forward(self, x):
        z = torch.relu(self.stem(x))
        for conv in self.down:
            z = torch.relu(conv(self.space_to_depth(z)))
        code = self.encode(z.transpose(1, 2).reshape(z.shape[0], -1))
        z = torch.relu(self.decode(code)).view(-1, self.code_frames, self.hidden).transpose(1, 2)
        for conv in self.up:
            z = self.depth_to_space(torch.relu(conv(z)))
        return self.head(z)

    def load_flax(self, params):
        def conv(module, p):
            module.weight.data = torch.from_numpy(np.array(p["kernel"]).transpose(2, 1, 0))
            module.bias.data = torch.from_numpy(np.array(p["bias"]))

        def dense(module, p):
            module.weight.data = torch.from_numpy(np.array(p["kernel"]).T.copy())
            module.bias.data = torch.from_numpy(np.array(p["bias"]))

        conv(self.stem, params["stem"])
        conv(self.head, params["head"])
        for i in range(2):
            conv(self.down[i], params["down"][i])
            conv(self.up[i], params["up"][i])
        dense(self.encode, params["encode"])
        dense(self.decode, params["decode"])


def synthetic_spectrograms(n_clips, seed=0):
    rng = np.random.default_rng(seed)
    profile = -50 + 10 * np.sin(np.arange(N_MELS) / 5.0)[:, None]
    t = np.arange(N_FRAMES)
    rhythm = 3 * np.sin(2 * np.pi * t / 12)[None, :]
    return (profile + rhythm + rng.normal(0, 2, (n_clips, N_MELS, N_FRAMES))).astype(np.float32)


def jax_epochs(n_clips, n_epochs, in_turn=None, **params):
    """Seconds of every epoch of ``ConvAutoencoderDetector(**params)`` on synthetic clips.

    ``in_turn``: None, the backend's choice for the stacked fold networks; True, member after
    member with the one-network step (the CPU path); False, one ``vmap``-ed step for all.
    """
    detector = ConvAutoencoderDetector(
        max_epochs=n_epochs, max_steps=None, patience=n_epochs + 1, random_state=0, **params
    )
    chosen = core._members_in_turn
    if in_turn is not None:
        core._members_in_turn = lambda X: in_turn
    try:
        detector.fit(synthetic_spectrograms(n_clips))
    finally:
        core._members_in_turn = chosen
    return [h["seconds"] for h in detector.history_]


def bench_epochs(n_clips, n_epochs):
    """One network in JAX (``n_folds=1``, as the default's full network) and in PyTorch."""
    X = synthetic_spectrograms(n_clips)
    # One network, as the PyTorch reference trains; the default's 5 fold networks train
    # beside it (``jax_epochs`` measures that).
    detector = ConvAutoencoderDetector(
        max_epochs=n_epochs, max_steps=None, validation_fraction=0.0, patience=n_epochs + 1,
        n_folds=1, random_state=0,
    )
    detector.fit(X)
    config = detector._config
    # The same initial weights as the detector's (its seed derivation for random_state=0).
    seed = np.random.RandomState(0).randint(np.iinfo(np.int32).max)
    key = jax.random.fold_in(jax.random.key(seed), 0)
    params0 = core.to_pure(core.init_state(config, detector.learning_rate, key)[0])
    jax_epochs = [h["seconds"] for h in detector.history_]
    n_patches = n_clips * (N_FRAMES // config.patch_frames)

    torch.manual_seed(0)
    net = TorchConvAutoencoder1d(config)
    net.load_flax(params0)
    optimizer = torch.optim.Adam(net.parameters(), lr=detector.learning_rate)
    clips = detector._validate_input(X, reset=False)
    Xs = torch.from_numpy(_streaming.map_chunks(clips, detector._standardise, lambda Z: Z))
    Xs = Xs.transpose(1, 2).contiguous()  # (clips, mels, frames)
    Xs_np = Xs.numpy()
    rng = np.random.default_rng(0)
    # Same network: identical outputs from identical weights.
    probe = Xs[:8, :, : config.patch_frames]
    graphdef = core.inference(config).graphdef
    from flax import nnx

    ref = nnx.merge(graphdef, core.from_pure(config, params0))(np.asarray(probe.transpose(1, 2)))
    max_diff = float(np.abs(np.asarray(ref).transpose(0, 2, 1) - net(probe).detach().numpy()).max())
    torch_epochs = []
    T, B = config.patch_frames, detector.batch_size
    for _ in range(n_epochs):
        start = time.perf_counter()
        clips, starts = core.training_tiles(n_clips, N_FRAMES, T, rng)
        order = rng.permutation(len(clips))
        # The epoch's patches in shuffled order, (n_patches, mels, T), contiguous for conv1d.
        window = starts[order][:, None] + np.arange(T)
        patches = torch.from_numpy(Xs_np[clips[order][:, None], :, window].transpose(0, 2, 1))
        patches = patches.contiguous()
        for lo in range(0, len(order), B):
            batch = patches[lo : lo + B]
            optimizer.zero_grad()
            loss = torch.mean((net(batch) - batch) ** 2)
            loss.backward()
            optimizer.step()
        torch_epochs.append(time.perf_counter() - start)
    return jax_epochs, torch_epochs, n_patches, max_diff


def peak_rss_gb():
    """Peak resident memory of this process image, in GB.

    On Linux, VmHWM from /proc/self/status: getrusage's ru_maxrss survives execve, so a child
    started by a large process reports at least its parent's size (measured: 2.0 GB in a fresh
    interpreter started by a 2 GB parent, whose VmHWM was 11 MB).
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def reset_peak_rss():
    """Restart the peak from the current RSS (Linux >= 4.0); True when it could."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def bench_pipeline(n_clips, max_epochs=100):
    """Fit ``Pipeline([mel, detector])`` on ``n_clips`` ten-second clips, then score them.

    Returns a dict: ``fit_seconds``, ``n_epochs``, ``score_rate`` (clips/s, features
    included), and in GB this process's peak RSS before the fit (data generation included),
    its RSS just before the fit, and its peak RSS during the fit (``peak_rss_fit_gb``: the
    peak is restarted before the fit where Linux allows, ``fit_peak_isolated``).
    """
    import psutil
    from sklearn.pipeline import Pipeline

    from skaudio_ad import MelSpectrogramTransformer
    from skaudio_ad.datasets import make_machine_sounds

    X, _ = make_machine_sounds(n_clips, 0, machine="fan", random_state=0)
    pipe = Pipeline([("mel", MelSpectrogramTransformer()),
                     ("detector", ConvAutoencoderDetector(max_epochs=max_epochs))])
    rss_before = peak_rss_gb()
    rss_now = psutil.Process().memory_info().rss / 1024**3
    isolated = reset_peak_rss()
    start = time.perf_counter()
    pipe.fit(X)
    fit_s = time.perf_counter() - start
    rss_fit = peak_rss_gb()
    detector = pipe[-1]
    pipe.score_samples(X[:64])  # warm-up: compile the inference step for this shape
    start = time.perf_counter()
    pipe.score_samples(X)
    score_rate = len(X) / (time.perf_counter() - start)
    return {"fit_seconds": fit_s, "n_epochs": detector.n_epochs_, "score_rate": score_rate,
            "peak_rss_before_fit_gb": rss_before, "rss_before_fit_gb": rss_now,
            "peak_rss_fit_gb": rss_fit, "fit_peak_isolated": isolated}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer clips and epochs, no pipeline")
    parser.add_argument("--clips", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--pipeline-clips", type=int, default=1000)
    args = parser.parse_args()
    n_clips, n_epochs = (64, 3) if args.quick else (args.clips, args.epochs)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"jax {jax.__version__} on {jax.devices()[0].platform}; torch {torch.__version__} "
        f"({torch.get_num_threads()} threads)"
    )
    jax_epochs, torch_epochs, n_patches, max_diff = bench_epochs(n_clips, n_epochs)
    # Epoch 1 of JAX includes compilation; both are timed on the epochs after it.
    jax_s, torch_s = np.median(jax_epochs[1:]), np.median(torch_epochs[1:])
    print(f"training: {n_clips} clips of {N_FRAMES} frames, {n_patches} patches per epoch")
    print(f"  same network check: max |jax - torch| forward output {max_diff:.1e}")
    print(f"  jax (first epoch incl. compilation {jax_epochs[0]:.2f} s)")
    print(f"  jax     epoch {jax_s:.3f} s  {n_patches / jax_s:,.0f} samples/s")
    print(f"  pytorch epoch {torch_s:.3f} s  {n_patches / torch_s:,.0f} samples/s")
    if not args.quick:
        result = bench_pipeline(args.pipeline_clips)
        print(
            f"pipeline fit on {args.pipeline_clips} ten-second clips: "
            f"{result['fit_seconds']:.1f} s ({result['n_epochs']} epochs), peak RSS "
            f"{result['peak_rss_fit_gb']:.2f} GB"
        )
        print(f"pipeline scoring (features included): {result['score_rate']:.0f} clips/s")
    print(f"speedup_vs_pytorch={torch_s / jax_s:.2f}")


if __name__ == "__main__":
    main()
