"""``skaudio-ad fit``: train a mel + detector Pipeline on recordings of normal sound, or with
``--per-machine`` one per machine (a :class:`~skaudio_ad.PerMachineDetector`)."""

from . import _fleet
from ._common import (
    EXIT_OK,
    QUIET,
    UserError,
    channel,
    check_output_file,
    failure_log,
    number,
    read_clips,
)

#: A threshold is "mean + k std" of normal clips' errors: one clip has no spread.
MIN_TRAINING_CLIPS = 2


def register(add_parser):
    fit = add_parser(
        "fit", help="train a detector on recordings of normal sound",
        description="Train on normal recordings and save the model. INPUT files or folders "
        "(searched recursively for .wav/.flac). Unusable files are reported and skipped.")
    fit.add_argument("inputs", nargs="+", metavar="INPUT", help="audio file or folder")
    fit.add_argument("-o", "--output", required=True, metavar="MODEL",
                     help="model file to write, e.g. model.skops")
    fit.add_argument("--channel", type=channel, default=0,
                     help="channel of multichannel files, or 'mean'")
    fit.add_argument("--duration", type=number(float, 0), metavar="SECONDS",
                     help="crop or zero-pad every file to this length; needed when the "
                     "files differ in length, and then applied when scoring too")
    for flag, kind, default, text in [
        ("--sr", int, 16000, "sampling rate in Hz; files are resampled"),
        ("--n-mels", int, 64, "mel bands"),
        ("--latent-dim", int, 16, "bottleneck size of the autoencoder"),
        ("--hidden-channels", int, 32, "width of the convolutional layers"),
        ("--patch-frames", int, 32, "frames per patch (32 frames ~ 1 s at 16 kHz)"),
        ("--epochs", int, 100, "maximum training epochs (at most 800 steps; with "
         "--validation-fraction, early stopping may end sooner)"),
    ]:
        fit.add_argument(flag, type=number(kind, 0), default=default, metavar="N", help=text)
    fit.add_argument("--target", choices=["reconstruction", "interpolation"],
                     default="reconstruction", help="what the autoencoder learns: rebuild "
                     "each patch, or predict its hidden centre frames from the frames around "
                     "them")
    fit.add_argument("--loss", choices=["mse", "gaussian"], default="mse",
                     help="how the autoencoder trains: squared error, or a predicted variance "
                     "per value and the Gaussian likelihood (errors then count less where "
                     "normal sound is unpredictable, as under loud background)")
    fit.add_argument("--threshold", type=float, default=2.0, metavar="K",
                     help="anomaly when the clip's anomaly score > mean + K std of the out-of-fold "
                     "scores of the normal training clips")
    fit.add_argument("--validation-fraction", type=number(float, 0, True, 1), default=0.0,
                     metavar="F", help="fraction of the clips held out to monitor the "
                     "validation loss (the threshold is calibrated out of fold either way)")
    fit.add_argument("--seed", type=int, default=0,
                     help="random seed of the initial weights and the shuffling; the "
                     "same recordings and options give the same model (default: %(default)s)")
    fit.add_argument("--quiet", **QUIET)
    _fleet.add_fit_options(fit)
    fit.set_defaults(run=run)


def run(args):
    check_output_file(args.output, "model", "-o models/fan.skops")
    if args.per_machine:
        return _run_per_machine(args)
    if args.scheduler is not None or args.n_jobs is not None:
        raise UserError("--scheduler and --n-jobs spread the machines of a fleet over "
                        "workers: add --per-machine (one model per machine folder).")
    from ..io import find_audio

    skipped, skip = failure_log("skipping")
    paths = find_audio(args.inputs, on_error=skip)
    model = build_pipeline(args, verbose=0 if args.quiet else 1)
    features, kept = _features(args, model["mel"], paths, skip)
    if len(kept) < MIN_TRAINING_CLIPS:
        found = f"{len(kept)} usable" if kept else "no usable"
        raise UserError(
            f"{found} training file among {len(paths)} found in {args.inputs} (see the "
            f"messages above); a threshold needs at least {MIN_TRAINING_CLIPS} clips of "
            "normal sound: give folders or files of .wav/.flac recordings."
        )
    model["detector"].fit(features)  # the Pipeline's steps, fitted in turn
    from .._persistence import save

    save(model, args.output)
    _summary(args, model[-1], len(kept), skipped)
    return EXIT_OK


def build_pipeline(args, *, verbose):
    """The unfitted mel + detector Pipeline that fit's options describe."""
    from sklearn.pipeline import Pipeline

    from .._detector import ConvAutoencoderDetector
    from .._features import MelSpectrogramTransformer

    mel = MelSpectrogramTransformer(sr=args.sr, n_mels=args.n_mels, channel=args.channel,
                                    duration=args.duration)
    detector = ConvAutoencoderDetector(
        latent_dim=args.latent_dim, threshold=args.threshold, max_epochs=args.epochs,
        patch_frames=args.patch_frames, hidden_channels=args.hidden_channels,
        validation_fraction=args.validation_fraction, target=args.target,
        loss=args.loss, random_state=args.seed, verbose=verbose,
    )
    return Pipeline([("mel", mel), ("detector", detector)])


def _features(args, mel, paths, skip):
    """The log-mel spectrograms of the usable files (fitting ``mel``), and those files."""
    import numpy as np

    kept, features = [], []
    try:
        for chunk in read_clips(paths, sr=args.sr, channel=args.channel,
                                duration=args.duration, n_fft=mel.n_fft, on_error=skip,
                                quiet=args.quiet, desc="reading"):
            features.append(mel.transform(chunk.X) if kept else mel.fit_transform(chunk.X))
            kept.extend(chunk.paths)
    except ValueError as exc:
        if "different lengths" not in str(exc):
            raise
        raise UserError(f"the training files have different lengths: {exc} On the command "
                        "line: pass --duration SECONDS.") from exc
    return (np.concatenate(features) if features else None), kept


def _usable(args, mel, paths, skip):
    """The files of one machine that io's reader accepts (read, then let go)."""
    kept = []
    try:
        for chunk in read_clips(paths, sr=args.sr, channel=args.channel,
                                duration=args.duration, n_fft=mel.n_fft, on_error=skip,
                                quiet=True, desc="checking"):
            kept.extend(chunk.paths)
    except ValueError as exc:
        if "different lengths" not in str(exc):
            raise
        raise UserError(f"{exc} On the command line: pass --duration SECONDS.") from exc
    return kept


def _run_per_machine(args):
    """``fit ROOT... --per-machine``: one Pipeline per machine, fitted on the workers."""
    import contextlib

    skipped, skip = failure_log("skipping")
    template = build_pipeline(args, verbose=0)
    paths, ids = [], []
    for machine, found in _fleet.find_machines(args.inputs, skip).items():
        kept = _usable(args, template["mel"], found, skip)
        if len(kept) < MIN_TRAINING_CLIPS:
            skip(machine, f"this machine has {len(kept)} usable training file(s); a "
                 f"threshold needs at least {MIN_TRAINING_CLIPS}")
            continue
        paths += kept
        ids += [machine] * len(kept)
    if not paths:
        raise UserError(
            f"no machine with {MIN_TRAINING_CLIPS} usable training files under {args.inputs} "
            "(see the messages above); give folders with one subfolder of .wav/.flac "
            "recordings per machine (ROOT/MACHINE/...)."
        )
    import joblib

    from .._fleet import PerMachineDetector
    from .._persistence import save

    # The workers read the files (they are checked above): only paths travel.
    fleet = PerMachineDetector(template, n_jobs=args.n_jobs, verbose=0 if args.quiet else 5)
    with _fleet.cluster(args.scheduler) as client:
        backend = (joblib.parallel_config(backend="dask", client=client) if client
                   else contextlib.nullcontext())
        with backend:
            fleet.fit(paths, machine_ids=ids)
    save(fleet, args.output)
    lines = [f"Trained {len(fleet.machine_ids_)} machine model(s) on {len(paths)} clips"
             + (f"; skipped {len(skipped)} unusable input(s)" if skipped else "") + ":"]
    for machine, model in fleet.estimators_.items():
        d = model[-1]
        lines.append(f"  {machine}: {fleet.n_clips_[machine]} clips, {d.n_epochs_} epochs "
                     f"(kept {d.best_epoch_}), anomaly score > {-d.offset_:.4g}")
    print("\n".join(lines) + f"\nSaved fleet model to {args.output}", flush=True)
    return EXIT_OK


def _summary(args, detector, n_clips, skipped):
    n_valid = len(detector.validation_indices_)
    held_out = f" ({n_valid} held out for validation)" if n_valid else ""
    scores = "out-of-fold scores" if getattr(detector, "n_folds_", 1) > 1 else "scores"
    print(
        f"Trained on {n_clips} clips{held_out} for "
        f"{detector.n_epochs_} epochs, keeping epoch {detector.best_epoch_}"
        + (f"; skipped {len(skipped)} unusable input(s)" if skipped else "") + ".\n"
        f"Threshold: anomaly score > {-detector.offset_:.4g} (mean + {args.threshold:g} std "
        f"of the {scores} of {detector.n_calibration_clips_} normal clips).\n"
        f"Saved model to {args.output}",
        flush=True,
    )


__all__ = ["build_pipeline", "register", "run"]
