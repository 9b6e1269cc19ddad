"""The ``skaudio-ad`` command line: ``demo``, ``fit``, ``score`` and ``evaluate``.

Results go to stdout, progress bars and per-file problems to stderr (one line per file).

Exit status: 0 success; 1 ``score --fail-on-anomaly`` found an anomaly; 2 a usage or user
error (bad arguments, missing or refused model file, no usable input), or some input could not
be scored. When files failed *and* an anomaly was found, 2 wins: the run is incomplete, and
a caller that only checks for "1" must not take a partial verdict for a full one. 130 on
Ctrl-C.
"""

import argparse
import csv
import functools
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from . import __version__, _cli_fleet

__all__ = ["main"]

PROG = "skaudio-ad"
AUDIO_SUFFIXES = (".wav", ".flac")
# Files read, transformed and scored together: bounds memory at ~20 MB of 10 s waveforms.
CHUNK_FILES = 32
EXIT_OK, EXIT_ANOMALY, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130


class _UserError(Exception):
    """A problem the user can fix; reported as one line, exit status 2."""


class _ClipError(ValueError):
    """One input file cannot be used; ``reason`` says why."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(EXIT_ERROR, f"{PROG}: error: {message} (see '{self.prog} --help')\n")


def _one_line(text):
    return " ".join(str(text).split())


def _report(message):
    # tqdm.write keeps an active progress bar intact below the message.
    from tqdm import tqdm

    tqdm.write(_one_line(message), file=sys.stderr)


class _Formatter(argparse.HelpFormatter):
    """Shows each option's default, when it has one."""

    def _get_help_string(self, action):
        if action.default in (None, argparse.SUPPRESS) or action.default is False:
            return action.help
        return f"{action.help} (default: %(default)s)"


def _failure_log(verb):
    """A list of failed paths and the callback that reports and records one."""
    failed = []

    def log(path, reason):
        failed.append(path)
        _report(f"{PROG}: {verb} {path!r}: {reason}")

    return failed, log


# ------------------------------------------------------------------------- inputs


def _collect_audio(inputs, on_error):
    """Audio files named by ``inputs``: files as given, folders searched recursively."""
    paths = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file()
            )
            if not found:
                on_error(str(path), f"no {'/'.join(AUDIO_SUFFIXES)} files in this folder")
            paths.extend(str(p) for p in found)
        elif path.exists():
            paths.append(str(path))
        else:
            on_error(str(path), "no such file or folder")
    # A file named twice (directly and through its folder) is read once.
    return list(dict.fromkeys(paths))


def _read_clip(path, *, sr, channel, duration, n_fft):
    """The waveform of ``path`` at ``sr``, or _ClipError saying why it cannot be used."""
    import soundfile as sf

    from .io import AudioReadError, read_audio

    try:
        y = read_audio(path, sr=sr, channel=channel, duration=duration)
        seconds = len(y) / sr if duration is None else sf.info(path).duration
    except AudioReadError as exc:
        raise _ClipError(exc.reason) from exc
    except (RuntimeError, sf.SoundFileError, ValueError) as exc:
        raise _ClipError(str(exc)) from exc
    if seconds * sr < n_fft:
        raise _ClipError(
            f"too short: {seconds:.3f} s, less than one analysis window "
            f"(n_fft = {n_fft} samples = {n_fft / sr:.3f} s at {sr} Hz)"
        )
    if not np.isfinite(y).all():
        raise _ClipError("it holds NaN or infinite samples")
    return y


def _read_chunks(paths, *, sr, channel, duration, n_fft, on_error, quiet, desc,
                 expected_len=None):
    """Yield ``(paths, waveforms)`` per chunk of readable files, reporting the others."""
    from tqdm import tqdm

    with tqdm(total=len(paths), desc=desc, unit="file", disable=quiet, leave=False,
              file=sys.stderr) as bar:
        for start in range(0, len(paths), CHUNK_FILES):
            good, clips = [], []
            for path in paths[start : start + CHUNK_FILES]:
                try:
                    y = _read_clip(path, sr=sr, channel=channel, duration=duration, n_fft=n_fft)
                    if expected_len is not None and len(y) != expected_len:
                        raise _ClipError(
                            f"it lasts {len(y) / sr:.3f} s ({len(y)} samples at {sr} Hz), but "
                            f"the model was fitted on {expected_len / sr:.3f} s clips; fit "
                            "with --duration to crop or zero-pad every file to one length"
                        )
                except _ClipError as exc:
                    on_error(path, str(exc))
                else:
                    good.append(path)
                    clips.append(y)
                bar.update()
            if good:
                yield good, clips


def _channel(value):
    if value != "mean" and not value.isdigit():
        raise argparse.ArgumentTypeError(f"expected a channel number >= 0 or 'mean', got {value!r}")
    return value if value == "mean" else int(value)


def _number(kind, low, low_inclusive=False, high=None):
    def parse(value):
        try:
            number = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None
        too_low = number < low if low_inclusive else number <= low
        if too_low or (high is not None and number >= high) or not np.isfinite(number):
            bound = f">= {low}" if low_inclusive else f"> {low}"
            bound += f" and < {high}" if high is not None else ""
            raise argparse.ArgumentTypeError(f"expected a value {bound}, got {value!r}")
        return number

    return parse


# ------------------------------------------------------------------------- models


def _load_model(path, trusted):
    from ._features import MelSpectrogramTransformer
    from ._persistence import ModelFileError, load

    try:
        model = load(path, trusted=trusted)
    except ModelFileError as exc:
        hint = "; after inspecting it, pass --trust TYPE for each type to load it anyway"
        raise _UserError(f"{exc}{hint if exc.untrusted_types else ''}") from exc
    if _cli_fleet.is_fleet(model):
        return model
    steps = getattr(model, "steps", None)
    if not steps or not isinstance(steps[0][1], MelSpectrogramTransformer) or not hasattr(
        steps[-1][1], "offset_"
    ):
        raise _UserError(
            f"model file {path!r} holds a {type(model).__name__}, not a fitted Pipeline that "
            "starts with a MelSpectrogramTransformer and ends with a detector (what "
            "`skaudio-ad fit` writes); score it from Python instead."
        )
    return model


def _score_files(model, paths, *, channel, on_error, quiet, desc="scoring"):
    """Scored paths and their ``score_samples``; files that fail are reported and skipped."""
    mel, features, detector = model[0], model[:-1], model[-1]
    channel = mel.channel if channel is None else channel
    read = dict(sr=mel.sr, channel=channel, duration=mel.duration, n_fft=mel.n_fft,
                expected_len=getattr(mel, "n_features_in_", None))
    scored, scores = [], []
    for good, clips in _read_chunks(paths, on_error=on_error, quiet=quiet, desc=desc, **read):
        try:
            chunk_scores = list(detector.score_samples(features.transform(np.stack(clips))))
        except ValueError:
            # One clip broke the batch: score one by one so the others still get a score.
            chunk_scores = []
            for path, y in zip(good, clips, strict=True):
                try:
                    chunk_scores.append(detector.score_samples(features.transform(y[None]))[0])
                except ValueError as exc:
                    on_error(path, str(exc))
                    chunk_scores.append(None)
        for path, score in zip(good, chunk_scores, strict=True):
            if score is not None:
                scored.append(path)
                scores.append(float(score))
    return scored, np.asarray(scores, dtype=np.float64)


def _spectrogram(model, path, channel):
    mel = model[0]
    y = _read_clip(path, sr=mel.sr, channel=mel.channel if channel is None else channel,
                   duration=mel.duration, n_fft=mel.n_fft)
    S = model[:-1].transform(y[None])
    return S[0], model[-1].frame_errors(S)[0]


# ------------------------------------------------------------------------- reports


def _print_metrics(y_true, anomaly_score, threshold, title):
    from .plotting import _metrics_report

    print(_metrics_report(y_true, anomaly_score, threshold, title), flush=True)


def _save_plots(out, *, model, **report):
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    from .plotting import _save_report

    spec = {name: getattr(model[0], name) for name in ("sr", "hop_length", "fmin", "fmax")}
    return _save_report(out, spec=spec, **report)


# ------------------------------------------------------------------------- commands


def _cmd_fit(args):
    if _cli_fleet.handles_fit(args):
        return _cli_fleet.cmd_fit(args)
    from sklearn.pipeline import Pipeline

    from ._detector import ConvAutoencoderDetector
    from ._features import MelSpectrogramTransformer
    from ._persistence import save

    folder = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(folder) or os.path.isdir(args.output):
        raise _UserError(f"cannot write the model to {args.output!r}: give a file name in an "
                         "existing folder, e.g. -o models/fan.skops.")
    skipped, skip = _failure_log("skipping")
    paths = _collect_audio(args.inputs, skip)
    mel = MelSpectrogramTransformer(sr=args.sr, n_mels=args.n_mels, channel=args.channel,
                                    duration=args.duration)
    lengths, kept, features = Counter(), [], []
    for good, clips in _read_chunks(paths, sr=args.sr, channel=args.channel,
                                    duration=args.duration, n_fft=mel.n_fft, on_error=skip,
                                    quiet=args.quiet, desc="reading"):
        lengths.update(len(y) for y in clips)
        if len(lengths) == 1:
            X = np.stack(clips)
            features.append(mel.transform(X) if kept else mel.fit_transform(X))
            kept.extend(good)
    if len(lengths) > 1:
        found = ", ".join(f"{n / args.sr:.3f} s ({count} files)"
                          for n, count in lengths.most_common(5))
        raise _UserError(
            f"the training files have different lengths ({found}); pass --duration SECONDS "
            "to crop or zero-pad every file to one length."
        )
    if not kept:
        raise _UserError(
            f"no usable training file among {len(paths)} found in {args.inputs} (see the "
            "messages above); give folders or files of .wav/.flac recordings of normal sound."
        )
    detector = ConvAutoencoderDetector(
        latent_dim=args.latent_dim, threshold=args.threshold, max_epochs=args.epochs,
        patch_frames=args.patch_frames, hidden_channels=args.hidden_channels,
        validation_fraction=args.validation_fraction, random_state=args.seed,
        verbose=0 if args.quiet else 1,
    )
    detector.fit(np.concatenate(features))
    model = Pipeline([("mel", mel), ("detector", detector)])
    save(model, args.output)
    n_valid = len(detector.validation_indices_)
    print(
        f"Trained on {len(kept)} clips ({n_valid} held out for validation) for "
        f"{detector.n_epochs_} epochs, keeping epoch {detector.best_epoch_}"
        + (f"; skipped {len(skipped)} unusable input(s)" if skipped else "") + ".\n"
        f"Threshold: anomaly score > {-detector.offset_:.4g} (mean + {args.threshold:g} std "
        f"of the errors of {detector.n_calibration_clips_} normal clips).\n"
        f"Saved model to {args.output}",
        flush=True,
    )
    return EXIT_OK


def _cmd_score(args):
    out_format = None
    if args.output is not None:
        out_format = Path(args.output).suffix.lower().lstrip(".")
        if out_format not in ("csv", "json"):
            raise _UserError(f"--output must end in .csv or .json; got {args.output!r}.")
    model = _load_model(args.model, args.trust)
    if _cli_fleet.handles(args, model):
        return _cli_fleet.cmd_score(args, model)
    failed, fail = _failure_log("cannot score")
    paths = _collect_audio(args.inputs, fail)
    scored, scores = _score_files(model, paths, channel=args.channel, on_error=fail,
                                  quiet=args.quiet)
    decisions = scores - model[-1].offset_
    rows = [
        {"path": p, "score": s, "decision": d, "anomaly": bool(d < 0)}
        for p, s, d in zip(scored, scores.tolist(), decisions.tolist(), strict=True)
    ]
    if out_format == "json":
        with open(args.output, "w") as f:
            json.dump(rows, f, indent=1)
            f.write("\n")
    else:
        f = sys.stdout if args.output is None else open(args.output, "w", newline="")
        try:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(["path", "score", "decision", "anomaly"])
            for r in rows:
                # repr: the shortest text that reads back as the same float64.
                writer.writerow([r["path"], repr(r["score"]), repr(r["decision"]),
                                 "yes" if r["anomaly"] else "no"])
        finally:
            if f is not sys.stdout:
                f.close()
    if failed or not paths:
        return EXIT_ERROR
    if args.fail_on_anomaly and any(r["anomaly"] for r in rows):
        return EXIT_ANOMALY
    return EXIT_OK


def _evaluation_files(args, fail):
    """(paths, labels) of the labelled test clips named by the evaluate arguments."""
    sources = [args.normal is not None or args.anomaly is not None, args.mimii is not None,
               args.dcase is not None]
    if sum(sources) != 1:
        raise _UserError("give exactly one of --normal/--anomaly, --mimii or --dcase.")
    if sources[0]:
        if args.normal is None or args.anomaly is None:
            raise _UserError("--normal and --anomaly go together: give both.")
        normal = _collect_audio(args.normal, fail)
        anomalous = _collect_audio(args.anomaly, fail)
        return normal + anomalous, [0] * len(normal) + [1] * len(anomalous)
    if args.machine is None:
        raise _UserError("--mimii and --dcase need --machine TYPE (e.g. fan, valve, ToyCar).")
    from .datasets import load_dcase2020, load_mimii

    if args.mimii is not None:
        data = load_mimii(args.mimii, machine_type=args.machine, machine_id=args.machine_id)
    else:
        data = load_dcase2020(args.dcase, machine_type=args.machine, machine_id=args.machine_id)
    keep = (data.split == "test") & (data.target >= 0)  # DCASE eval clips carry no label
    return list(data.filenames[keep]), list(data.target[keep])


def _cmd_evaluate(args):
    model = _load_model(args.model, args.trust)
    if _cli_fleet.handles(args, model):
        return _cli_fleet.cmd_evaluate(args, model)
    failed, fail = _failure_log("cannot score")
    paths, labels = _evaluation_files(args, fail)
    label_of = dict(zip(paths, labels, strict=True))
    scored, scores = _score_files(model, paths, channel=args.channel, on_error=fail,
                                  quiet=args.quiet)
    y_true = np.asarray([label_of[p] for p in scored], dtype=int)
    if len(set(y_true.tolist())) < 2:
        raise _UserError(
            f"evaluation needs scored normal and anomalous clips; got {np.sum(y_true == 0)} "
            f"normal and {np.sum(y_true == 1)} anomalous of {len(paths)} files."
        )
    anomaly_score, threshold = -scores, -model[-1].offset_
    _print_metrics(y_true, anomaly_score, threshold, "Evaluation")
    if args.out is not None:
        normal_scores = np.where(y_true == 0, anomaly_score, np.nan)
        i_normal = int(np.nanargmin(np.abs(normal_scores - np.nanmedian(normal_scores))))
        i_anomalous = int(np.argmax(np.where(y_true == 1, anomaly_score, -np.inf)))
        shown = []
        for i, kind in ((i_normal, "normal clip of median score"),
                        (i_anomalous, "highest-scoring anomalous clip")):
            S, errors = _spectrogram(model, scored[i], args.channel)
            title = f"{kind}, score {anomaly_score[i]:.3g}:\n{Path(scored[i]).name}"
            shown.append((S, errors, title, None, None))
        groups = {"test normal": anomaly_score[y_true == 0],
                  "test anomalous": anomaly_score[y_true == 1]}
        written = _save_plots(args.out, y_true=y_true, anomaly_score=anomaly_score,
                              groups=groups, threshold=threshold, model=model,
                              normal=shown[0], anomalous=shown[1])
        print(f"Plots saved in {args.out}:\n" + "".join(f"  {p}\n" for p in written), end="")
    else:
        print("Pass --out DIR to save the plots.")
    return EXIT_ERROR if failed else EXIT_OK


def _cmd_demo(args):
    from sklearn.pipeline import Pipeline

    from ._detector import ConvAutoencoderDetector
    from ._features import MelSpectrogramTransformer
    from ._persistence import save
    from .datasets import make_machine_sounds

    start = time.perf_counter()
    # Default sized to finish in about a minute on a 2-core laptop CPU; --quick for tests.
    n_train, n_test, duration, epochs = (24, 8, 1.5, 3) if args.quick else (200, 60, 5.0, 60)
    print(
        f"skaudio-ad demo: synthetic fan sounds at 0 dB SNR, {duration:g} s clips at 16 kHz.\n"
        f"Generating {n_train} normal training clips and a test set of {n_test} normal + "
        f"{n_test} anomalous clips...",
        flush=True,
    )
    X_train, _ = make_machine_sounds(n_train, 0, machine="fan", duration=duration, snr_db=0.0,
                                     random_state=args.seed)
    # Another seed draws other clips of the same machine.
    X_test, y_test, meta = make_machine_sounds(
        n_test, n_test, machine="fan", duration=duration, snr_db=0.0,
        random_state=args.seed + 1, return_metadata=True,
    )
    mel = MelSpectrogramTransformer(duration=duration)
    S_train, S_test = mel.fit_transform(X_train), mel.transform(X_test)
    detector = ConvAutoencoderDetector(
        max_epochs=epochs, random_state=args.seed, verbose=0 if args.quiet else 1,
        **(dict(hidden_channels=16, latent_dim=8, patch_frames=16) if args.quick else {}),
    )
    print(f"Training a convolutional autoencoder for up to {epochs} epochs...", flush=True)
    detector.fit(S_train)
    model = Pipeline([("mel", mel), ("detector", detector)])

    train_score = -detector.score_samples(S_train)
    valid = np.zeros(n_train, dtype=bool)
    valid[detector.validation_indices_] = True
    errors = detector.frame_errors(S_test)
    test_score, threshold = errors.mean(axis=1), -detector.offset_
    print(f"Trained {detector.n_epochs_} epochs (kept epoch {detector.best_epoch_}).")
    _print_metrics(y_test, test_score, threshold, "Test set")

    # Show a detected anomaly, preferably an episodic one whose interval is known.
    anomalous = np.flatnonzero(y_test == 1)
    episodic = anomalous[meta.anomaly_end[anomalous] - meta.anomaly_start[anomalous]
                         < 0.99 * duration]
    detected = episodic[test_score[episodic] > threshold]
    pool = detected if len(detected) else anomalous
    i_anom = int(pool[np.argmax(test_score[pool])])
    normal = np.flatnonzero(y_test == 0)
    i_norm = int(normal[np.argsort(test_score[normal])[len(normal) // 2]])
    kind = meta.anomaly_type[i_anom]
    spans = ([(meta.anomaly_start[i_anom], meta.anomaly_end[i_anom])]
             if i_anom in episodic else None)
    written = _save_plots(
        args.out, y_true=y_test, anomaly_score=test_score, threshold=threshold, model=model,
        groups={"train": train_score[~valid], "validation": train_score[valid],
                "test normal": test_score[y_test == 0],
                "test anomalous": test_score[y_test == 1]},
        normal=(S_test[i_norm], errors[i_norm],
                f"normal test clip (score {test_score[i_norm]:.3g})", None, None),
        anomalous=(S_test[i_anom], errors[i_anom],
                   f"anomalous test clip: {kind}, severity {meta.severity[i_anom]:.2f} "
                   f"(score {test_score[i_anom]:.3g})", spans, f"true {kind} interval"),
    )
    model_path = os.path.join(args.out, "model.skops")
    save(model, model_path)
    print(f"Plots saved in {args.out}:\n" + "".join(f"  {p}\n" for p in written)
          + f"Model saved to {model_path}; score recordings with:\n"
          f"  {PROG} score {model_path} RECORDING.wav ...\n"
          f"Done in {time.perf_counter() - start:.0f} s.", flush=True)
    return EXIT_OK


# ------------------------------------------------------------------------- parser


def _build_parser():
    parser = _Parser(
        prog=PROG,
        description="Sound-based anomaly detection for industrial machines: train a "
        "detector on recordings of normal operation, then flag anomalous recordings.",
        epilog="Exit status: 0 success; 1 an anomaly was found (score --fail-on-anomaly); "
        "2 an error, or some input could not be used. See '%(prog)s COMMAND --help'.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     parser_class=_Parser)
    add_parser = functools.partial(commands.add_parser, formatter_class=_Formatter)
    quiet = dict(action="store_true", help="no progress bars")

    demo = add_parser(
        "demo", help="train and evaluate on synthetic fan sounds, save plots and the model",
        description="Generate synthetic fan recordings with planted anomalies, train a "
        "detector, print test metrics and save plots and the model into --out.")
    demo.add_argument("--out", default="demo_output", metavar="DIR",
                      help="folder for the plots and model.skops")
    demo.add_argument("--quick", action="store_true", help="a tiny run of a few seconds")
    demo.add_argument("--seed", type=int, default=0, help="random seed")
    demo.add_argument("--quiet", **quiet)
    demo.set_defaults(run=_cmd_demo)

    fit = add_parser(
        "fit", help="train a detector on recordings of normal sound",
        description="Train on normal recordings and save the model. INPUT files or folders "
        "(searched recursively for .wav/.flac). Unreadable files are reported and skipped.")
    fit.add_argument("inputs", nargs="+", metavar="INPUT", help="audio file or folder")
    fit.add_argument("-o", "--output", required=True, metavar="MODEL",
                     help="model file to write, e.g. model.skops")
    fit.add_argument("--channel", type=_channel, default=0,
                     help="channel of multichannel files, or 'mean'")
    fit.add_argument("--duration", type=_number(float, 0), metavar="SECONDS",
                     help="crop or zero-pad every file to this length; needed when the "
                     "files differ in length, and then applied when scoring too")
    for flag, kind, default, text in [
        ("--sr", int, 16000, "sampling rate in Hz; files are resampled"),
        ("--n-mels", int, 64, "mel bands"),
        ("--latent-dim", int, 16, "bottleneck size of the autoencoder"),
        ("--hidden-channels", int, 32, "width of the convolutional layers"),
        ("--patch-frames", int, 32, "frames per patch (32 frames ~ 1 s at 16 kHz)"),
        ("--epochs", int, 100, "maximum training epochs; early stopping may end sooner"),
    ]:
        fit.add_argument(flag, type=_number(kind, 0), default=default, metavar="N", help=text)
    fit.add_argument("--threshold", type=float, default=2.0, metavar="K",
                     help="anomaly when error > mean + K std of the validation errors")
    fit.add_argument("--validation-fraction", type=_number(float, 0, True, 1), default=0.1,
                     metavar="F", help="fraction of the clips held out for validation")
    fit.add_argument("--seed", type=int, help="random seed for reproducible training")
    fit.add_argument("--quiet", **quiet)
    _cli_fleet.add_fit_arguments(fit)
    fit.set_defaults(run=_cmd_fit)

    trust = dict(action="append", metavar="TYPE",
                 help="trust this type in the model file (inspect the file first)")
    channel = dict(type=_channel, default=None,
                   help="channel of multichannel files, or 'mean'; default: the model's")
    score = add_parser(
        "score", help="score recordings with a saved model",
        description="Score each INPUT file (folders are searched for .wav/.flac). Writes "
        "one row per file: path, score (score_samples, higher = more normal), decision "
        "(score - offset_, negative = anomaly), anomaly (yes/no).")
    score.add_argument("model", metavar="MODEL", help="model file from 'skaudio-ad fit'")
    score.add_argument("inputs", nargs="+", metavar="INPUT", help="audio file or folder")
    score.add_argument("--output", metavar="FILE",
                       help="write FILE.csv or FILE.json instead of CSV on stdout")
    score.add_argument("--fail-on-anomaly", action="store_true",
                       help="exit with status 1 if any file is anomalous")
    score.add_argument("--channel", **channel)
    score.add_argument("--trust", **trust)
    score.add_argument("--quiet", **quiet)
    _cli_fleet.add_score_arguments(score)
    score.set_defaults(run=_cmd_score)

    ev = add_parser(
        "evaluate", help="measure a saved model on labelled recordings",
        description="Score labelled test recordings, print AUC, pAUC, F1, balanced accuracy "
        "and the confusion matrix, and save plots with --out.")
    ev.add_argument("model", metavar="MODEL", help="model file from 'skaudio-ad fit'")
    ev.add_argument("--normal", nargs="+", metavar="PATH", help="normal recordings")
    ev.add_argument("--anomaly", nargs="+", metavar="PATH", help="anomalous recordings")
    ev.add_argument("--mimii", metavar="ROOT", help="MIMII dataset root (its test split)")
    ev.add_argument("--dcase", metavar="ROOT", help="DCASE 2020 Task 2 root (test split)")
    ev.add_argument("--machine", metavar="TYPE", help="machine type for --mimii / --dcase")
    ev.add_argument("--machine-id", metavar="ID", help="only this machine id, e.g. id_00")
    ev.add_argument("--out", metavar="DIR", help="save the plots into this folder")
    ev.add_argument("--channel", **channel)
    ev.add_argument("--trust", **trust)
    ev.add_argument("--quiet", **quiet)
    _cli_fleet.add_score_arguments(ev, machine_flag=None)
    ev.set_defaults(run=_cmd_evaluate)
    return parser


def main(argv=None):
    """Run the ``skaudio-ad`` command line.

    Parameters
    ----------
    argv : list of str or None, default=None
        Arguments without the program name; None reads ``sys.argv[1:]``.

    Returns
    -------
    status : int
        The exit status (see the module docstring).
    """
    try:
        args = _build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR
    try:
        return args.run(args)
    except _UserError as exc:
        message = str(exc)
    except (ValueError, OSError, FloatingPointError) as exc:
        # The package's errors name the file or parameter and say what to do.
        message = str(exc) or type(exc).__name__
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"{PROG}: error: {_one_line(message)}", file=sys.stderr)
    return EXIT_ERROR
