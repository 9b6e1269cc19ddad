"""Command-line glue for the plant: ``monitor``, ``score --locate`` / ``--frames``, the cache.

Kept apart from the other commands so that ``_cli`` needs only a few hook lines:
:func:`extend_parser` in the parser, :func:`prepare` before a command runs,
:func:`load_model` where the model file is loaded, and :func:`add_locations` /
:func:`location_columns` in ``score``.
"""

import argparse
import csv
import json
import os
import signal
import sys

__all__ = ["add_locations", "add_monitor_parser", "extend_parser", "load_model",
           "location_columns", "prepare", "run_monitor"]

EXIT_OK, EXIT_ANOMALY, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130
#: A closed stdout (``| head -1``): 128 + SIGPIPE, as a process killed by it would end.
EXIT_BROKEN_PIPE = 128 + getattr(signal, "SIGPIPE", 13)

LOCATION_COLUMNS = ("span_start", "span_end", "peak_time", "peak_error", "band_low_hz",
                    "band_high_hz", "summary")


def _positive(kind, name):
    def parse(value):
        try:
            number = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None
        if not number > 0 or number != number or number == float("inf"):
            raise argparse.ArgumentTypeError(f"{name} must be > 0; got {value!r}")
        return number

    return parse


def extend_parser(commands, add_parser):
    """Add ``--no-cache`` to every command, ``--locate``/``--frames`` to score, and ``monitor``."""
    score = commands.choices["score"]
    score.add_argument("--locate", action="store_true",
                       help="add per file the most anomalous span (s), its peak frame error, "
                       "the dominant frequency band (Hz) and a sentence saying so")
    score.add_argument("--frames", metavar="FILE.csv",
                       help="write every frame's error (path, frame, time, error) to FILE.csv")
    score.add_argument("--smoothing", type=_positive(float, "--smoothing"), default=0.5,
                       metavar="SECONDS",
                       help="moving average of the frame errors before --locate finds the span")
    add_monitor_parser(commands, add_parser)
    for parser in commands.choices.values():
        parser.add_argument(
            "--no-cache", action="store_true",
            help="do not use the caches of compiled networks and verified model files "
            "($SKAUDIO_AD_CACHE_DIR, default: the user cache folder); every run then "
            "compiles the network and loads the model file through skops again")


def _check_output(path, suffix, flag):
    if path is None:
        return
    if not path.lower().endswith(suffix):
        raise ValueError(f"{flag} must name a {suffix} file; got {path!r}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder) or os.path.isdir(path):
        raise ValueError(f"cannot write {flag} {path!r}: give a file name in an existing folder")


_USE_MODEL_CACHE = False


def load_model(path, trusted, load):
    """``load(path, trusted=trusted)``, through the cache of verified models unless --no-cache."""
    if not _USE_MODEL_CACHE:
        return load(path, trusted=trusted)
    from ._cache import load_model_cached

    return load_model_cached(path, trusted, load)


def prepare(args):
    """Before a command runs: check new output paths; the caches, unless ``--no-cache``."""
    global _USE_MODEL_CACHE
    _check_output(getattr(args, "frames", None), ".csv", "--frames")
    _USE_MODEL_CACHE = not getattr(args, "no_cache", False)
    if getattr(args, "no_cache", False):
        return
    from ._cache import enable_compilation_cache

    try:
        enable_compilation_cache()
    except OSError as exc:
        # An unwritable cache folder must not stop scoring; it only costs the compile time.
        print(f"skaudio-ad: warning: {' '.join(str(exc).split())}; compiling without it",
              file=sys.stderr)


# ------------------------------------------------------------------------- score --locate


def location_columns(args):
    """The CSV columns ``score --locate`` adds."""
    return list(LOCATION_COLUMNS) if getattr(args, "locate", False) else []


def add_locations(model, rows, args, on_error, read_clip):
    """Add the location fields to ``rows`` and write ``--frames``; ``read_clip(path)``."""
    if not (args.locate or args.frames):
        return
    from ._locate import _locate_clips

    frames_file = open(args.frames, "w", newline="") if args.frames else None
    try:
        frames = csv.writer(frames_file, lineterminator="\n") if frames_file else None
        if frames:
            frames.writerow(["path", "frame", "time", "error"])
        for row in rows:
            try:
                y = read_clip(row["path"])
                spans, errors, frame_seconds = _locate_clips(model, y[None], args.smoothing)
            except ValueError as exc:
                on_error(row["path"], str(exc))
                continue
            if frames:
                for t, e in enumerate(errors[0].tolist()):
                    frames.writerow([row["path"], t, repr(round(t * frame_seconds, 6)), repr(e)])
            if args.locate:
                span = spans[0]
                summary = span.describe("unusual energy at" if row["anomaly"]
                                        else "normal; least typical:")
                row.update(span_start=span.start, span_end=span.end, peak_time=span.peak_time,
                           peak_error=span.peak_error, band_low_hz=span.band_low,
                           band_high_hz=span.band_high, summary=summary)
    finally:
        if frames_file:
            frames_file.close()


# ------------------------------------------------------------------------- monitor


def add_monitor_parser(commands, add_parser=None):
    """Add the ``monitor`` command to ``commands`` (an argparse subparsers object)."""
    mon = (add_parser or commands.add_parser)(
        "monitor", help="score a continuous stream (file, stdin or microphone) in windows",
        description="Score continuous audio in windows of the model's clip length every "
        "--hop seconds and write JSON Lines on stdout: an event record when an anomaly "
        "starts and when it ends (times in seconds from the start of the stream), and with "
        "--every one record per window. score is the anomaly score (-score_samples, higher "
        "= more anomalous), decision the detector's decision_function (negative = anomaly), "
        "threshold the score above which a window is anomalous. Exit status: 0, 1 with "
        "--fail-on-anomaly after an event, 2 on an error, 130 on Ctrl-C (an open event is "
        "closed first), 141 when stdout is closed.")
    mon.add_argument("model", metavar="MODEL", help="model file from 'skaudio-ad fit'")
    mon.add_argument("source", metavar="SOURCE", nargs="?",
                     help="WAV/FLAC file, or - for raw PCM on stdin (see --sr, --channels, "
                     "--dtype); omit with --device")
    mon.add_argument("--device", metavar="DEVICE",
                     help="record from this input device (number or name) with sounddevice; "
                     "needs the 'live' extra")
    mon.add_argument("--hop", type=_positive(float, "--hop"), metavar="SECONDS",
                     help="time between window starts; default: half a window, at most 1 s")
    mon.add_argument("--min-windows", type=_positive(int, "--min-windows"), default=2,
                     metavar="N", help="consecutive anomalous windows that open an event")
    mon.add_argument("--min-normal-windows", type=_positive(int, "--min-normal-windows"),
                     default=2, metavar="M", help="consecutive normal windows that close it")
    mon.add_argument("--every", action="store_true", help="also write one record per window")
    mon.add_argument("--realtime", action="store_true",
                     help="read a file at the pace of real time, as a live stream would arrive")
    mon.add_argument("--sr", type=_positive(int, "--sr"), metavar="HZ",
                     help="sample rate of stdin or the device; default: the model's")
    mon.add_argument("--channels", type=_positive(int, "--channels"), default=1, metavar="N",
                     help="interleaved channels of stdin or the device")
    mon.add_argument("--dtype", default="float32", choices=("int16", "int32", "uint8",
                                                            "float32", "float64"),
                     help="sample format of raw stdin, native byte order (a WAV header on "
                     "stdin is recognised and gives rate, channels and format)")
    mon.add_argument("--channel", type=_channel, default=None,
                     help="channel of multichannel input, or 'mean'; default: the model's")
    mon.add_argument("--fail-on-anomaly", action="store_true",
                     help="exit with status 1 at the end if an anomaly event occurred")
    mon.add_argument("--trust", action="append", metavar="TYPE",
                     help="trust this type in the model file (inspect the file first)")
    mon.set_defaults(run=run_monitor)
    return mon


def _channel(value):
    if value != "mean" and not value.isdigit():
        raise argparse.ArgumentTypeError(f"expected a channel number >= 0 or 'mean', got {value!r}")
    return value if value == "mean" else int(value)


class _Resampler:
    """Streaming resampling to the model's rate (soxr, the resampler librosa uses)."""

    def __init__(self, in_sr, out_sr, channels):
        import soxr

        self._stream = soxr.ResampleStream(in_sr, out_sr, channels, dtype="float32",
                                           quality="HQ")

    def __call__(self, block, last=False):
        return self._stream.resample_chunk(block, last=last)


def _write(records):
    for record in records:
        sys.stdout.write(json.dumps(record) + "\n")
    if records:
        sys.stdout.flush()


def run_monitor(args):
    """``skaudio-ad monitor``: exit 0, 1 with --fail-on-anomaly and an event, 2 on errors."""
    from ._monitor import StreamError, StreamMonitor, open_source

    if (args.source is None) == (args.device is None):
        raise ValueError("give a SOURCE (a file, or - for stdin) or --device, not both")
    from . import _cli

    model = _cli._load_model(args.model, args.trust)
    mel = model[0]
    if getattr(mel, "n_features_in_", None) is None:
        raise ValueError(f"model file {args.model!r} does not record its clip length; "
                         "refit it with 'skaudio-ad fit'")
    window = int(mel.n_features_in_)
    hop_s = args.hop if args.hop is not None else min(1.0, window / mel.sr / 2)
    hop = max(1, round(hop_s * mel.sr))
    if hop > window:
        raise ValueError(f"--hop must be at most one window ({window / mel.sr:g} s); "
                         f"got {args.hop:g}")
    channel = mel.channel if args.channel is None else args.channel
    name = args.source if args.device is None else f"device {args.device}"
    try:
        source = open_source(args.source, device=args.device, realtime=args.realtime,
                             sr=args.sr or mel.sr, channels=args.channels, dtype=args.dtype)
    except StreamError as exc:
        raise ValueError(str(exc)) from exc
    monitor = StreamMonitor(model, hop=hop, min_windows=args.min_windows,
                            min_normal_windows=args.min_normal_windows, every=args.every,
                            channel=channel, name=repr(name))
    resample = (_Resampler(source.sr, mel.sr, source.channels)
                if source.sr != mel.sr else None)
    # Files as fast as possible are read many hops at a time (fewer, larger scoring calls);
    # live input one hop at a time, so each window is scored as soon as it is complete.
    live = args.realtime or args.source == "-" or args.device is not None
    block = hop if live else hop * 32
    if resample is not None:
        block = max(1, round(block * source.sr / mel.sr))
    status = EXIT_OK
    try:
        try:
            while True:
                data = source.read(block)
                ended = len(data) < block  # sources return a short block only at the end
                if resample is not None:
                    data = resample(data, last=ended)
                if len(data):
                    _write(monitor.feed(data))
                if ended:
                    break
            _write(monitor.finish())
        except KeyboardInterrupt:
            _write(monitor.finish(reason="interrupt"))
            status = EXIT_INTERRUPTED
        except StreamError as exc:
            raise ValueError(str(exc)) from exc
        except ValueError as exc:  # from the model: name the stream
            raise ValueError(f"monitor {name!r}: {exc}") from exc
    except BrokenPipeError:
        # The reader left (| head): nothing more can be written; end quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    finally:
        source.close()
    if source.trailing_bytes:
        print(f"skaudio-ad: monitor {name!r}: the stream ended inside a sample frame; "
              f"ignored its last {source.trailing_bytes} byte(s)", file=sys.stderr)
    if monitor.n_windows == 0:
        raise ValueError(
            f"stream {name!r} ended after {monitor.n_samples / mel.sr:.3f} s, shorter than one "
            f"window of the model ({window / mel.sr:g} s): nothing was scored")
    if status == EXIT_OK and args.fail_on_anomaly and monitor.n_events:
        status = EXIT_ANOMALY
    return status

