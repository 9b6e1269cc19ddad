"""JAX's persistent compilation cache: compiled networks reused across processes.

Each new process otherwise compiles the scoring network again (0.5-3 s on a 2-core CPU, most
of a one-file ``skaudio-ad score``). The command line turns the cache on by default; the
Python API leaves JAX's configuration to the user unless :func:`enable_compilation_cache` is
called.
"""

import os

__all__ = ["enable_compilation_cache", "default_cache_dir"]

#: Environment variable that moves the cache folder.
CACHE_DIR_ENV = "SKAUDIO_AD_CACHE_DIR"


def default_cache_dir():
    """``$SKAUDIO_AD_CACHE_DIR`` if set, else ``jax/`` in the user's cache folder (platformdirs)."""
    env = os.environ.get(CACHE_DIR_ENV)
    if env:
        return os.path.abspath(os.path.expanduser(env))
    import platformdirs

    return os.path.join(platformdirs.user_cache_dir("skaudio_ad", appauthor=False), "jax")


def enable_compilation_cache(cache_dir=None):
    """Turn on JAX's persistent compilation cache for this process.

    Compiled networks are written to ``cache_dir`` and reused by later processes, so that a
    second ``score`` of a model skips compilation. Scores do not change: the cache stores the
    executables XLA would compile again. The entry key covers the JAX version, the backend and
    the compiler flags, so a cache survives upgrades safely. This sets JAX's global
    configuration (``jax_compilation_cache_dir``, and the minimum compile time, set to 0 so
    that the small scoring functions are cached too); the ``skaudio-ad`` command line calls
    it unless given ``--no-cache``. Entries are 10-200 kB, one per compiled function and
    input shape; the folder can be deleted at any time. No size bound is set: JAX's
    least-recently-used eviction needs ``filelock`` and, in a folder that already holds
    entries written without it, warns at every compilation (measured with JAX 0.10).

    Parameters
    ----------
    cache_dir : str, path-like or None, default=None
        Folder for the cache, created if missing. None: ``$SKAUDIO_AD_CACHE_DIR`` if set, else
        ``skaudio_ad/jax`` in the user's cache folder (``platformdirs.user_cache_dir``, e.g.
        ``~/.cache/skaudio_ad/jax`` on Linux).

    Returns
    -------
    cache_dir : str
        The folder in use.

    Raises
    ------
    OSError
        When the folder cannot be created or written; the message names it.

    Examples
    --------
    >>> import os, tempfile
    >>> import skaudio_ad
    >>> folder = skaudio_ad.enable_compilation_cache(tempfile.mkdtemp())  # doctest: +SKIP
    """
    folder = default_cache_dir() if cache_dir is None else os.fspath(cache_dir)
    try:
        os.makedirs(folder, exist_ok=True)
        if not os.access(folder, os.W_OK | os.X_OK):
            # JAX would warn at every compilation instead.
            raise PermissionError(13, "not writable")
    except OSError as exc:
        raise OSError(
            f"cannot use the compilation cache folder {folder!r} ({exc.strerror or exc}); "
            f"set {CACHE_DIR_ENV} to a writable folder, or disable the cache (--no-cache)"
        ) from exc
    import jax

    jax.config.update("jax_compilation_cache_dir", folder)
    # Default 1 s: the scoring functions compile in less, and are exactly what is reused.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    return folder
