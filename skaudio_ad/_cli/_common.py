"""What the commands share: the parser, argument types, error reporting, output checks,
model loading and reading + scoring files through :mod:`skaudio_ad.io`.

Imports nothing heavy at module level (see the package docstring).
"""

import argparse
import functools
import math
import os
import sys

from . import (  # noqa: F401  (the statuses, for the command modules)
    EXIT_ANOMALY,
    EXIT_BROKEN_PIPE,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    PROG,
)

# Files read, transformed and scored together: bounds memory at ~20 MB of 10 s waveforms.
CHUNK_FILES = 32


class UserError(Exception):
    """A problem the user can fix; reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(EXIT_ERROR, f"{PROG}: error: {message} (see '{self.prog} --help')\n")


class _Formatter(argparse.HelpFormatter):
    """Shows each option's default, when it has one."""

    def _get_help_string(self, action):
        if action.default in (None, argparse.SUPPRESS) or action.default is False:
            return action.help
        return f"{action.help} (default: %(default)s)"


def one_line(text):
    return " ".join(str(text).split())


def report(message):
    # tqdm.write keeps an active progress bar intact below the message.
    from tqdm import tqdm

    tqdm.write(one_line(message), file=sys.stderr)


def failure_log(verb):
    """A list of failed paths and the ``on_error(path, reason)`` that reports and records one."""
    failed = []

    def log(path, reason):
        failed.append(path)
        report(f"{PROG}: {verb} {os.fspath(path)!r}: {reason}")

    return failed, log


# ------------------------------------------------------------------------- the parser


def build_parser(command_modules):
    from .. import __version__

    parser = _Parser(
        prog=PROG,
        description="Sound-based anomaly detection for industrial machines: train a "
        "detector on recordings of normal operation, then flag anomalous recordings.",
        epilog="Exit status: 0 success; 1 an anomaly was found (score --fail-on-anomaly); "
        "2 an error, or some input could not be used; 130 interrupted. See "
        "'%(prog)s COMMAND --help'.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     parser_class=_Parser)
    add = functools.partial(commands.add_parser, formatter_class=_Formatter)
    for module in command_modules:
        module.register(add)
    for command in commands.choices.values():
        command.add_argument(
            "--no-cache", action="store_true",
            help="do not use the caches of compiled networks and verified model files "
            "($SKAUDIO_AD_CACHE_DIR, default: the user cache folder); every run then "
            "compiles the network and loads the model file through skops again")
    return parser


# ------------------------------------------------------------------------- the caches


def prepare(args):
    """Before a command runs: progress bars, and JAX's compilation cache unless ``--no-cache``.

    Progress bars are drawn on a terminal only: from cron, or with stderr sent to a file,
    they would fill the log with redrawn lines, so there ``--quiet`` is implied.

    The Python API leaves JAX's configuration alone; the command line turns the cache on
    because every process would otherwise compile the network again.
    """
    if hasattr(args, "quiet") and not _is_terminal(sys.stderr):
        args.quiet = True
    if args.no_cache:
        return
    from .._cache import enable_compilation_cache

    try:
        enable_compilation_cache()
    except OSError as exc:
        # An unwritable cache folder must not stop scoring; it only costs the compile time.
        report(f"{PROG}: warning: {exc}; compiling without it")


def _is_terminal(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # replaced or closed
        return False


def channel(value):
    if value != "mean" and not value.isdigit():
        raise argparse.ArgumentTypeError(f"expected a channel number >= 0 or 'mean', got {value!r}")
    return value if value == "mean" else int(value)


def number(kind, low, low_inclusive=False, high=None):
    def parse(value):
        try:
            n = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None
        too_low = n < low if low_inclusive else n <= low
        if too_low or (high is not None and n >= high) or not math.isfinite(n):
            bound = f">= {low}" if low_inclusive else f"> {low}"
            bound += f" and < {high}" if high is not None else ""
            raise argparse.ArgumentTypeError(f"expected a value {bound}, got {value!r}")
        return n

    return parse


QUIET = dict(action="store_true",
             help="no progress bars (implied when stderr is not a terminal)")


def add_model_options(parser):
    """``--channel``, ``--trust``, ``--max-model-size`` of the commands that load a model."""
    parser.add_argument("--channel", type=channel, default=None,
                        help="channel of multichannel files, or 'mean'; default: the model's")
    parser.add_argument("--trust", action="append", metavar="TYPE",
                        help="trust this type in the model file (inspect the file first)")
    parser.add_argument("--max-model-size", type=number(float, 0), default=128.0, metavar="MB",
                        help="refuse model files larger than this, uncompressed, in MiB")


# ------------------------------------------------------------------------- outputs


def check_output_file(path, what, example):
    """Refuse, before any work, an output file that could not be written."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path) or not os.path.isdir(folder):
        raise UserError(f"cannot write the {what} to {path!r}: give a file name in an existing "
                        f"folder, e.g. {example}.")
    if not os.access(folder, os.W_OK):
        raise UserError(f"cannot write the {what} to {path!r}: the folder {folder!r} is not "
                        "writable.")


def check_output_folder(path, what):
    """Refuse, before any work, an output folder that could not be created or written."""
    if os.path.exists(path):
        if not os.path.isdir(path):
            raise UserError(f"cannot save the {what} into {path!r}: it exists and is not a "
                            "folder.")
        target = path
    else:
        target = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(target):
            raise UserError(f"cannot save the {what} into {path!r}: its parent folder "
                            f"{target!r} does not exist.")
    if not os.access(target, os.W_OK):
        raise UserError(f"cannot save the {what} into {path!r}: {target!r} is not writable.")


# ------------------------------------------------------------------------- models


def load_model(args):
    """The model in ``args.model``: a fitted mel + detector Pipeline, or a fleet of them
    (:class:`~skaudio_ad.PerMachineDetector`); UserError naming the file if not.

    Through the cache of verified model files (:mod:`skaudio_ad._cache`) unless --no-cache.
    """
    from .._persistence import load
    from ..exceptions import ModelFileError

    max_bytes = max(1, int(args.max_model_size * 2**20))
    try:
        if args.no_cache:
            model = load(args.model, trusted=args.trust, max_bytes=max_bytes)
        else:  # the same model, without skops' import, when this file was verified before
            from .._cache import load_model_cached

            model = load_model_cached(args.model, args.trust, load, max_bytes=max_bytes)
    except ModelFileError as exc:
        hint = "; after inspecting it, pass --trust TYPE for each type to load it anyway"
        raise UserError(f"{exc}{hint if exc.untrusted_types else ''}") from exc
    # After loading: a refused file costs none of the heavy imports.
    from .._fleet import PerMachineDetector

    if isinstance(model, PerMachineDetector) and hasattr(model, "estimators_"):
        for machine, pipeline in model.estimators_.items():
            _check_pipeline(args.model, pipeline, f"the model of machine {machine!r}")
    else:
        _check_pipeline(args.model, model, "it")
    return model


def _check_pipeline(path, model, what):
    from .._features import MelSpectrogramTransformer

    steps = getattr(model, "steps", None)
    if not steps or not isinstance(steps[0][1], MelSpectrogramTransformer) or not hasattr(
        steps[-1][1], "offset_"
    ) or not hasattr(steps[0][1], "n_features_in_"):
        raise UserError(
            f"model file {path!r}: {what} is a {type(model).__name__}, not a fitted Pipeline "
            "that starts with a MelSpectrogramTransformer and ends with a detector (what "
            "`skaudio-ad fit` writes); score it from Python instead."
        )


# ------------------------------------------------------------------------- reading, scoring


def read_clips(paths, *, sr, channel, duration, n_fft, on_error, quiet, desc, n_samples=None):
    """Chunks of usable clips (:class:`skaudio_ad.io.ClipChunk`), with a progress bar.

    Without ``duration`` a file shorter than one analysis window is "too short"; with it,
    every file is cropped or zero-padded, as the transformer would.
    """
    from tqdm import tqdm

    from ..io import iter_clips

    if not paths:
        return
    chunks = iter_clips(paths, sr=sr, channel=channel, duration=duration,
                        n_samples=None if duration is not None else n_samples,
                        min_samples=None if duration is not None else n_fft,
                        chunk_size=CHUNK_FILES, on_error=on_error)
    with tqdm(total=len(paths), desc=desc, unit="file", disable=quiet, leave=False,
              file=sys.stderr) as bar:
        for chunk in chunks:
            bar.update(int(chunk.indices[-1]) + 1 - bar.n)
            yield chunk
        bar.update(len(paths) - bar.n)


def score_files(model, paths, *, channel, on_error, quiet, keep_features=False,
                desc="scoring"):
    """Scored paths, ``score_samples``, ``decision_function``, ``predict`` (and features).

    Files that cannot be read or scored, and files whose score is not finite, go to
    ``on_error`` and are left out: a non-finite score is never a verdict.
    """
    import numpy as np

    mel, features, detector = model[0], model[:-1], model[-1]
    read = dict(sr=mel.sr, channel=mel.channel if channel is None else channel,
                duration=mel.duration, n_fft=mel.n_fft, n_samples=mel.n_features_in_)
    out = {"paths": [], "score": [], "decision": [], "label": [], "S": []}
    for chunk in read_clips(paths, on_error=on_error, quiet=quiet, desc=desc, **read):
        for path, S, result in _score_chunk(features, detector, chunk, on_error):
            score, decision, label = result
            if not (np.isfinite(score) and np.isfinite(decision)):
                on_error(path, f"the model gave a non-finite score ({score}); the model or "
                         "the recording is damaged")
                continue
            out["paths"].append(path)
            out["score"].append(score)
            out["decision"].append(decision)
            out["label"].append(label)
            if keep_features:
                out["S"].append(S)
    for key in ("score", "decision"):
        out[key] = np.asarray(out[key], dtype=np.float64)
    out["label"] = np.asarray(out["label"], dtype=int)
    return out


def _score_chunk(features, detector, chunk, on_error):
    """``(path, S, (score, decision, label))`` per clip; a failing clip is scored alone."""
    from .._archive import detector_outputs, rows_alone_on_failure

    def apply(X):
        S = features.transform(X)
        methods = ("score_samples", "decision_function", "predict")
        return (S, *detector_outputs(detector, S, methods))

    scored = []
    for path, result in zip(chunk.paths, rows_alone_on_failure(apply, chunk.X), strict=True):
        if isinstance(result, ValueError):
            on_error(path, str(result))
        else:
            scored.append((path, result[0], result[1:]))
    return scored
