"""The ``skaudio-ad`` command line: ``demo``, ``fit``, ``score``, ``evaluate``, ``monitor``.

One module per command; each registers its own subparser (``register(commands)``) and runs
through ``run(args) -> status``, so a new command is one new module named in
:data:`COMMANDS`. Commands are thin: files are read by :func:`skaudio_ad.io.iter_clips`, models
are Pipelines scored through their own methods, reports are built in :mod:`._report`.

Results go to stdout, progress bars (on a terminal only) and per-file problems to stderr
(one line per file).

Exit status: 0 success; 1 ``score --fail-on-anomaly`` found an anomaly; 2 a usage or user
error (bad arguments, missing, damaged or refused model file, no usable input), or some input
could not be scored. When files failed *and* an anomaly was found, 2 wins: the run is
incomplete, and a caller that only checks for "1" must not take a partial verdict for a full
one. 130 on Ctrl-C (also during start-up); 141 (128 + SIGPIPE, as other Unix tools) when
stdout is closed early, e.g. by ``| head -1``, without a message.

Start-up imports nothing: this package imports only ``importlib``, ``os`` and ``sys``; the
parser, numpy, jax and the rest load inside :func:`main`, where Ctrl-C is caught (and
``python -m skaudio_ad`` catches it around importing this package too).
"""

import importlib
import os
import sys

__all__ = ["COMMANDS", "main"]

PROG = "skaudio-ad"
#: Exit statuses (see above), defined once here; the command modules import them.
EXIT_OK, EXIT_ANOMALY, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 0, 1, 2, 130, 141

#: The command modules, in the order ``--help`` lists them.
COMMANDS = ("demo", "fit", "score", "evaluate", "monitor")


def _parser():
    from ._common import build_parser

    modules = [importlib.import_module(f".{name}", __name__) for name in COMMANDS]
    return build_parser(modules)


def _quiet_stdout():
    """After a broken pipe: point stdout at /dev/null so the exit flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout replaced (tests) or closed
        pass


def _interrupted():
    print(f"\n{PROG}: interrupted", file=sys.stderr, flush=True)
    return EXIT_INTERRUPTED


def _exit_on_swallowed_interrupt(previous):
    """An unraisable hook: Ctrl-C raised inside a callback Python cannot propagate from
    (jax registers a garbage-collector callback) would be printed and lost; exit instead."""
    def hook(unraisable):
        if issubclass(unraisable.exc_type, KeyboardInterrupt):
            _interrupted()
            os._exit(EXIT_INTERRUPTED)
        previous(unraisable)

    return hook


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
    previous_hook = sys.unraisablehook
    sys.unraisablehook = _exit_on_swallowed_interrupt(previous_hook)
    try:
        status = _main(argv)
    finally:
        sys.unraisablehook = previous_hook
    if status == EXIT_INTERRUPTED and argv is None:
        # Run as a program: exit now. A Ctrl-C that landed in code run by an extension
        # module's PyRun_String makes CPython 3.11 kill itself with SIGINT at exit even
        # though it was handled, which callers would see as "killed", not status 130.
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(EXIT_INTERRUPTED)
    return status


def _main(argv):
    try:
        # Imported here, where Ctrl-C is caught: start-up is where most of the time goes.
        from ._common import UserError, one_line, prepare

        try:
            args = _parser().parse_args(argv)
        except SystemExit as exc:  # --help, --version, usage errors
            return exc.code if isinstance(exc.code, int) else EXIT_ERROR
        try:
            prepare(args)
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
        return _interrupted()
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
