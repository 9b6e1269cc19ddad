"""The command line's caches: JAX's compiled networks, and verified model files.

Each new process otherwise compiles the scoring network again (0.5-3 s on a 2-core CPU), and
loads the model file through skops, whose import alone builds its list of trusted types by
importing every scikit-learn module (``all_estimators``: 0.9-1.9 s, with pytest and dask,
measured with ``python -X importtime``). Together that is more than the rest of a one-file
``skaudio-ad score``.

- :func:`enable_compilation_cache` turns on JAX's persistent compilation cache.
- :func:`load_model_cached` keeps, per model file *content* (SHA-256) and library
  versions, the model skops already loaded and audited, pickled in a folder private to the
  user. The trust is the same as that of the compiled-code cache beside it: whoever can
  write either folder can run code as the user, so the folder is used only when it is
  owned by the user and not writable by group or others (POSIX; elsewhere the model cache
  is off).

The command line uses both unless ``--no-cache``; the Python API leaves JAX's
configuration and model loading alone.
"""

import hashlib
import os
import pickle
import stat
import sys
import tempfile

__all__ = ["enable_compilation_cache", "default_cache_dir", "load_model_cached"]

#: Model files larger than this are not copied into the model cache.
MAX_CACHED_MODEL_BYTES = 64 * 2**20

#: Environment variable that moves the cache folder.
CACHE_DIR_ENV = "SKAUDIO_AD_CACHE_DIR"


def cache_root():
    """``$SKAUDIO_AD_CACHE_DIR`` if set, else ``skaudio_ad`` in the user's cache folder."""
    env = os.environ.get(CACHE_DIR_ENV)
    if env:
        return os.path.abspath(os.path.expanduser(env))
    import platformdirs

    return platformdirs.user_cache_dir("skaudio_ad", appauthor=False)


def default_cache_dir():
    """The compilation cache: ``jax/`` in :func:`cache_root`."""
    return os.path.join(cache_root(), "jax")


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
        Folder for the cache, created if missing. None: ``jax/`` in ``$SKAUDIO_AD_CACHE_DIR``
        if set, else in ``skaudio_ad`` in the user's cache folder
        (``platformdirs.user_cache_dir``: ``~/.cache/skaudio_ad/jax`` on Linux).

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


def _versions():
    import numpy
    import sklearn

    from . import __version__

    names = {"python": sys.version, "skaudio_ad": __version__, "numpy": numpy.__version__,
             "sklearn": sklearn.__version__}
    for module in ("skops", "jax", "flax"):
        try:
            from importlib.metadata import version

            names[module] = version(module)
        except Exception:  # not installed or no metadata: part of the key all the same
            names[module] = "?"
    return repr(sorted(names.items()))


def _private_folder(folder):
    """Create ``folder`` (mode 700) and say whether only this user can write it."""
    if not hasattr(os, "getuid"):
        return False
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        st = os.stat(folder)
    except OSError:
        return False
    return st.st_uid == os.getuid() and not st.st_mode & 0o022


def load_model_cached(path, trusted, load, folder=None, max_bytes=None):
    """``load(path, trusted=trusted[, max_bytes=max_bytes])``, or the same model from the
    cache of verified models.

    The entry's key is the SHA-256 of the file's bytes, the trusted type names, ``max_bytes``
    and the library versions, so a changed file, other trust, a smaller size bound or an
    upgrade never reuses an entry. Only regular files are read here (a FIFO or a device goes
    straight to ``load``, which refuses it). A damaged or unreadable entry is ignored (and
    replaced). Any failure of the cache itself falls back to ``load``.
    """
    options = {} if max_bytes is None else {"max_bytes": max_bytes}
    folder = os.path.join(cache_root(), "models") if folder is None else folder
    try:
        st = os.stat(path)
        size = st.st_size if stat.S_ISREG(st.st_mode) else None
    except OSError:
        size = None
    if size is None or size > MAX_CACHED_MODEL_BYTES or not _private_folder(folder):
        return load(path, trusted=trusted, **options)
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_CACHED_MODEL_BYTES + 1)
    except OSError:
        return load(path, trusted=trusted, **options)
    key = hashlib.sha256(data)
    key.update(repr((sorted(map(str, trusted or [])), max_bytes)).encode())
    key.update(_versions().encode())
    entry = os.path.join(folder, key.hexdigest() + ".pickle")
    try:
        st = os.stat(entry)
        if st.st_uid == os.getuid() and not st.st_mode & 0o022:
            with open(entry, "rb") as f:
                return pickle.load(f)
    except Exception:  # missing or damaged: load through skops, then (re)write the entry
        pass
    model = load(path, trusted=trusted, **options)
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            pickle.dump(model, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, entry)  # atomic: a concurrent reader sees the old or the new entry
    except Exception:
        try:
            os.unlink(tmp)
        except Exception:
            pass
    return model
