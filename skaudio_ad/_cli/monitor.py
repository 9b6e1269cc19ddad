"""``skaudio-ad monitor``: score a continuous stream in windows, JSON Lines on stdout.

The stream readers (a file read as a stream, raw PCM on stdin, a microphone) and the
windowing with hysteresis live in :mod:`skaudio_ad._monitor`; this module wires them to the
command line.
"""

import json
import sys

from ._common import (
    EXIT_ANOMALY,
    EXIT_INTERRUPTED,
    EXIT_OK,
    PROG,
    UserError,
    add_model_options,
    load_model,
    number,
    one_line,
)


def register(add_parser):
    mon = add_parser(
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
    mon.add_argument("--hop", type=number(float, 0), metavar="SECONDS",
                     help="time between window starts; default: half a window, at most 1 s")
    mon.add_argument("--min-windows", type=number(int, 0), default=2, metavar="N",
                     help="consecutive anomalous windows that open an event")
    mon.add_argument("--min-normal-windows", type=number(int, 0), default=2, metavar="M",
                     help="consecutive normal windows that close it")
    mon.add_argument("--every", action="store_true", help="also write one record per window")
    mon.add_argument("--realtime", action="store_true",
                     help="read a file at the pace of real time, as a live stream would arrive")
    mon.add_argument("--sr", type=number(int, 0), metavar="HZ",
                     help="sample rate of stdin or the device; default: the model's")
    mon.add_argument("--channels", type=number(int, 0), default=1, metavar="N",
                     help="interleaved channels of stdin or the device")
    mon.add_argument("--dtype", default="float32",
                     choices=("int16", "int32", "uint8", "float32", "float64"),
                     help="sample format of raw stdin, native byte order (a WAV header on "
                     "stdin is recognised and gives rate, channels and format)")
    mon.add_argument("--fail-on-anomaly", action="store_true",
                     help="exit with status 1 at the end if an anomaly event occurred")
    add_model_options(mon)
    mon.set_defaults(run=run)


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


def run(args):
    """Exit 0, 1 with --fail-on-anomaly and an event; errors are UserError (exit 2).

    A broken pipe propagates to :func:`skaudio_ad._cli.main` (exit 141, quietly).
    """
    from .._monitor import StreamError, StreamMonitor, open_source

    if (args.source is None) == (args.device is None):
        raise UserError("give a SOURCE (a file, or - for stdin) or --device, not both")
    model = load_model(args)
    from . import _fleet

    if _fleet.is_fleet(model):
        raise UserError(f"{args.model!r} is a fleet (fit --per-machine); monitor one machine "
                        "with its own model (fit it without --per-machine)")
    mel = model[0]
    window = int(mel.n_features_in_)
    hop_s = args.hop if args.hop is not None else min(1.0, window / mel.sr / 2)
    hop = max(1, round(hop_s * mel.sr))
    if hop > window:
        raise UserError(f"--hop must be at most one window ({window / mel.sr:g} s); "
                        f"got {args.hop:g}")
    channel = mel.channel if args.channel is None else args.channel
    name = args.source if args.device is None else f"device {args.device}"
    try:
        source = open_source(args.source, device=args.device, realtime=args.realtime,
                             sr=args.sr or mel.sr, channels=args.channels, dtype=args.dtype)
    except StreamError as exc:
        raise UserError(str(exc)) from exc
    try:
        monitor = StreamMonitor(model, hop=hop, min_windows=args.min_windows,
                                min_normal_windows=args.min_normal_windows, every=args.every,
                                channel=channel, name=repr(name))
        resample = (_Resampler(source.sr, mel.sr, source.channels)
                    if source.sr != mel.sr else None)
        # Files as fast as possible are read many hops at a time (fewer, larger scoring
        # calls); live input one hop at a time, so each window is scored once complete.
        live = args.realtime or args.source == "-" or args.device is not None
        block = hop if live else hop * 32
        if resample is not None:
            block = max(1, round(block * source.sr / mel.sr))
        status = _stream(source, monitor, resample, block, name)
    finally:
        source.close()
    if source.trailing_bytes:
        print(f"{PROG}: monitor {name!r}: the stream ended inside a sample frame; "
              f"ignored its last {source.trailing_bytes} byte(s)", file=sys.stderr)
    if monitor.n_windows == 0:
        raise UserError(
            f"stream {name!r} ended after {monitor.n_samples / mel.sr:.3f} s, shorter than one "
            f"window of the model ({window / mel.sr:g} s): nothing was scored")
    if status == EXIT_OK and args.fail_on_anomaly and monitor.n_events:
        status = EXIT_ANOMALY
    return status


def _stream(source, monitor, resample, block, name):
    """Feed ``source`` to ``monitor`` until the end or Ctrl-C (which closes an open event)."""
    from .._monitor import StreamError

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
        return EXIT_INTERRUPTED
    except StreamError as exc:
        raise UserError(str(exc)) from exc
    except ValueError as exc:  # from the model: name the stream
        raise UserError(f"monitor {name!r}: {one_line(exc)}") from exc
    return EXIT_OK
