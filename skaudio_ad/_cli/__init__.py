"""The ``skaudio-ad`` command line: ``demo``, ``fit``, ``score`` and ``evaluate``.

One module per command; each registers its own subparser (``register(commands)``) and runs
through ``run(args) -> status``, so a new command is one new module named in
:data:`COMMANDS`. Commands are thin: files are read by :func:`skaudio_ad.io.iter_clips`, models
are Pipelines scored through their own methods, reports are built in :mod:`._report`.

Results go to stdout, progress bars and per-file problems to stderr (one line per file).

Exit status: 0 success; 1 ``score --fail-on-anomaly`` found an anomaly; 2 a usage or user
error (bad arguments, missing, damaged or refused model file, no usable input), or some input
could not be scored. When files failed *and* an anomaly was found, 2 wins: the run is
incomplete, and a caller that only checks for "1" must not take a partial verdict for a full
one. 130 on Ctrl-C (also during start-up); 141 (128 + SIGPIPE, as other Unix tools) when
stdout is closed early, e.g. by ``| head -1``, without a message.

Start-up imports nothing heavy: this package imports only argparse; numpy, jax and the rest
load inside :func:`main`, where Ctrl-C is caught.
"""

import importlib
import os
import sys

from ._common import (
    EXIT_BROKEN_PIPE,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    PROG,
    UserError,
    build_parser,
    one_line,
)

__all__ = ["COMMANDS", "main"]

#: The command modules, in the order ``--help`` lists them.
COMMANDS = ("demo", "fit", "score", "evaluate")


def _parser():
    modules = [importlib.import_module(f".{name}", __name__) for name in COMMANDS]
    return build_parser(modules)


def _quiet_stdout():
    """After a broken pipe: point stdout at /dev/null so the exit flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout replaced (tests) or closed
        pass


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
        try:
            args = _parser().parse_args(argv)
        except SystemExit as exc:  # --help, --version, usage errors
            return exc.code if isinstance(exc.code, int) else EXIT_ERROR
        try:
            return args.run(args)
        except UserError as exc:
            message = str(exc)
        except BrokenPipeError:
            raise
        except (ValueError, OSError, FloatingPointError, MemoryError) as exc:
            # The package's errors name the file or parameter and say what to do.
            message = str(exc) or type(exc).__name__
        print(f"{PROG}: error: {one_line(message)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
