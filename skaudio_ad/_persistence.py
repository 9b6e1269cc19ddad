"""Model files: :func:`save` and :func:`load`, secure skops archives with a version stamp.

A model file is a `skops <https://skops.readthedocs.io>`_ archive (a zip file holding a JSON
schema and ``.npy`` arrays, never a pickle) with one extra member, ``skaudio_ad.json``, that
records who wrote it::

    {"format": "skaudio_ad model", "format_version": 1, "skaudio_ad_version": "0.1.0", ...}

Loading is secure by default: skops lists every type the archive would import, and
:func:`load` allows only the types that skaudio_ad's own models are made of (its estimators,
plus the numpy, scipy, scikit-learn and builtin types that skops already trusts). Any other
type, such as a custom function in a ``FunctionTransformer`` or an object injected into the
file, is refused until the caller names it in ``trusted=`` after inspecting the file.

Compatibility rule: a file loads when its ``format_version`` equals this version's
:data:`FORMAT_VERSION` and it was written by the same major.minor release of skaudio_ad
(``0.1.0.dev0``, ``0.1.0`` and ``0.1.7`` read each other's files; ``0.2.0`` does not read
``0.1.x`` files). Fitted attributes (network parameter layout, threshold statistics) may change
between minor releases, and a model that loads but scores differently is worse than one that
refuses to load, so a mismatch is an error that names both versions.
"""

import io
import json
import os
import re
import secrets
import warnings
import zipfile

import numpy as np
import sklearn
from sklearn.base import BaseEstimator

__all__ = ["FORMAT_VERSION", "ModelFileError", "load", "save"]

#: Version of the model file layout (the metadata member and what it promises). Bump it when
#: a file written now could not be read correctly by the code that reads it.
FORMAT_VERSION = 1

_FORMAT = "skaudio_ad model"
_METADATA_MEMBER = "skaudio_ad.json"

# The types skaudio_ad's models are made of that skops does not trust by default: exactly the
# package's estimators. Everything else a model holds (Pipeline, numpy arrays, dicts of
# arrays, floats, None) is on skops' default trusted list. A new public estimator must be
# added here; tests/test_persistence.py checks that every exported estimator is.
SKAUDIO_AD_TYPES = (
    "skaudio_ad._detector.ConvAutoencoderDetector",
    "skaudio_ad._features.MelSpectrogramTransformer",
    "skaudio_ad._fleet.PerMachineDetector",
)


class ModelFileError(ValueError):
    """A file is not a usable skaudio_ad model file.

    Raised for files that are not model files at all, for files written by an incompatible
    version, and for files holding types that are not trusted.

    Parameters
    ----------
    path : str or os.PathLike
        The model file.
    reason : str
        What is wrong and what to do, in words.
    untrusted_types : list of str, default=()
        The refused types, when that is the problem.

    Attributes
    ----------
    path : str or os.PathLike
        The model file.
    reason : str
        What is wrong and what to do.
    untrusted_types : list of str
        The types the file holds that were refused; empty for other problems.
    """

    def __init__(self, path, reason, untrusted_types=()):
        self.path = path
        self.reason = reason
        self.untrusted_types = list(untrusted_types)
        super().__init__(f"model file {os.fspath(path)!r}: {reason}")

    def __reduce__(self):
        return (type(self), (self.path, self.reason, self.untrusted_types))


def _major_minor(version):
    match = re.match(r"(\d+)\.(\d+)", str(version))
    return (int(match[1]), int(match[2])) if match else None


def _skops_io():
    # Imported on first use: skops.io imports every scikit-learn module to build its trusted
    # list, which took 1.5-3.5 s, too long to add to `import skaudio_ad`.
    import skops.io

    return skops.io


def _metadata(model):
    import skops

    return {
        "format": _FORMAT,
        "format_version": FORMAT_VERSION,
        "skaudio_ad_version": _package_version(),
        "scikit_learn_version": sklearn.__version__,
        "skops_version": skops.__version__,
        "numpy_version": np.__version__,
        "estimator": f"{type(model).__module__}.{type(model).__qualname__}",
    }


def _package_version():
    # Read at call time (not import time): the package's __init__ imports this module.
    from . import __version__

    return __version__


def _type_names(trusted):
    """``trusted`` as a list of fully qualified names, as skops reports them."""
    if trusted is None:
        return []
    if isinstance(trusted, str) or not hasattr(trusted, "__iter__"):
        raise TypeError(
            "trusted must be a list of type names (str) or types, e.g. "
            f"trusted=['mymodule.MyTransformer']; got {trusted!r}."
        )
    names = []
    for item in trusted:
        if isinstance(item, str):
            names.append(item)
        elif hasattr(item, "__module__") and hasattr(item, "__qualname__"):
            names.append(f"{item.__module__}.{item.__qualname__}")
        else:
            raise TypeError(
                f"trusted must hold type names (str) or types; got {type(item).__name__} "
                f"{item!r}."
            )
    return names


def save(model, path):
    """Save a fitted model to a secure, versioned model file.

    The file is a skops archive (no pickle) stamped with the skaudio_ad version and the file
    format version; :func:`load` reads it back. The file is written to a temporary name next
    to ``path`` and renamed, so an interrupted save never leaves a half-written model.

    Parameters
    ----------
    model : estimator
        A scikit-learn estimator, typically ``Pipeline([("mel", MelSpectrogramTransformer()),
        ("detector", ConvAutoencoderDetector())])`` or a bare
        :class:`~skaudio_ad.ConvAutoencoderDetector`, usually fitted.
    path : str or os.PathLike
        File to write (conventionally ``*.skops``); an existing file is replaced. Its folder
        must exist.

    Warns
    -----
    UserWarning
        When the model holds types that :func:`load` does not trust by default (e.g. a custom
        function in a ``FunctionTransformer``): loading it will need ``trusted=[...]``.

    See Also
    --------
    load : Read the file back.
    skops.io.dump : The underlying format.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import skaudio_ad
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(12, 8, 16))  # (n_clips, n_mels, n_frames)
    >>> detector = skaudio_ad.ConvAutoencoderDetector(
    ...     max_epochs=1, hidden_channels=4, latent_dim=2, patch_frames=8, random_state=0
    ... ).fit(X)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.skops")
    >>> skaudio_ad.save(detector, path)
    >>> loaded = skaudio_ad.load(path)
    >>> bool(np.array_equal(loaded.score_samples(X), detector.score_samples(X)))
    True
    """
    if not isinstance(model, BaseEstimator):
        raise TypeError(
            "model must be a scikit-learn estimator such as a fitted Pipeline or "
            f"ConvAutoencoderDetector; got {type(model).__name__}."
        )
    sio = _skops_io()
    buffer = io.BytesIO(sio.dumps(model))
    untrusted = sorted(set(sio.get_untrusted_types(data=buffer.getvalue())) - set(SKAUDIO_AD_TYPES))
    if untrusted:
        warnings.warn(
            f"The model holds types that skaudio_ad.load() does not trust by default: "
            f"{untrusted}. Loading the file will need skaudio_ad.load(path, "
            f"trusted={untrusted}).",
            UserWarning,
            stacklevel=2,
        )
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr(_METADATA_MEMBER, json.dumps(_metadata(model), indent=2))

    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    # Not tempfile.mkstemp: its files are private (0600); this one gets the umask's mode.
    tmp = os.path.join(folder, f".{name}.{secrets.token_hex(6)}.tmp")
    try:
        with open(tmp, "xb") as f:
            f.write(buffer.getvalue())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _read_bytes(path):
    if not os.path.exists(path):
        raise FileNotFoundError(f"model file {os.fspath(path)!r} does not exist.")
    if os.path.isdir(path):
        raise ModelFileError(path, "it is a directory, not a model file.")
    with open(path, "rb") as f:
        return f.read()


def _read_metadata(path, data):
    """The metadata dict of the model file ``data`` read from ``path``.

    Raises ModelFileError when it is not a model file.
    """
    not_ours = (
        "not a skaudio_ad model file ({}). Model files are written by skaudio_ad.save() "
        "and `skaudio-ad fit`."
    )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if _METADATA_MEMBER not in names:
                what = (
                    "a skops file without skaudio_ad's version stamp; if you trust its source, "
                    "read it with skops.io.load()"
                    if "schema.json" in names
                    else "a zip archive that holds no model"
                )
                raise ModelFileError(path, not_ours.format(what))
            raw = archive.read(_METADATA_MEMBER)
    except (zipfile.BadZipFile, EOFError) as exc:
        reason = f"not a zip archive, or a truncated one: {exc}"
        raise ModelFileError(path, not_ours.format(reason)) from exc
    try:
        metadata = json.loads(raw)
    except ValueError as exc:
        raise ModelFileError(path, f"its {_METADATA_MEMBER} is not valid JSON ({exc}).") from exc
    if not isinstance(metadata, dict) or metadata.get("format") != _FORMAT:
        raise ModelFileError(path, not_ours.format(f"{_METADATA_MEMBER} is not skaudio_ad's"))
    return metadata


def _check_versions(path, metadata):
    written_by = metadata.get("skaudio_ad_version", "an unknown version")
    running = _package_version()
    fmt = metadata.get("format_version")
    if fmt != FORMAT_VERSION:
        advice = (
            "upgrade skaudio_ad to load it"
            if isinstance(fmt, int) and fmt > FORMAT_VERSION
            else f"load it with skaudio_ad {written_by}, or refit the model with this version"
        )
        raise ModelFileError(
            path,
            f"written by skaudio_ad {written_by} in model file format {fmt!r}, but skaudio_ad "
            f"{running} reads format {FORMAT_VERSION}; {advice}.",
        )
    if _major_minor(written_by) != _major_minor(running):
        raise ModelFileError(
            path,
            f"written by skaudio_ad {written_by}, but skaudio_ad {running} is running; model "
            "files load only in the major.minor release that wrote them. Install skaudio_ad "
            f"{written_by} to use it (pip install 'skaudio_ad=={written_by}'), or refit the "
            "model with this version.",
        )


def load(path, *, trusted=None):
    """Load a model saved with :func:`save`, refusing untrusted types.

    Parameters
    ----------
    path : str or os.PathLike
        A model file written by :func:`save` or ``skaudio-ad fit``.
    trusted : list of (str or type) or None, default=None
        Extra types to allow, by their fully qualified names as
        ``skops.io.get_untrusted_types(file=path)`` reports them. The types of skaudio_ad's
        own models are always allowed; anything else must be listed here, and only after
        inspecting the file: loading an untrusted type can run arbitrary code.

    Returns
    -------
    model : estimator
        The model, ready to score: same parameters, same fitted attributes, bitwise-equal
        scores.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ModelFileError
        A ``ValueError`` naming the file: it is not a model file (text, truncated, a plain
        zip), it was written by an incompatible version (the message names the version
        that wrote it and the one running), or it holds types that are neither skaudio_ad's
        nor in ``trusted`` (the message lists them).

    See Also
    --------
    save : Write a model file.
    skops.io.get_untrusted_types : List the types a file would import.

    Notes
    -----
    See the module docstring for the compatibility rule: the same ``FORMAT_VERSION`` and the
    same major.minor release of skaudio_ad.

    Examples
    --------
    >>> import os, tempfile
    >>> import skaudio_ad
    >>> path = os.path.join(tempfile.mkdtemp(), "notes.skops")
    >>> with open(path, "w") as f:
    ...     _ = f.write("not a model")
    >>> skaudio_ad.load(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    skaudio_ad._persistence.ModelFileError: model file '...notes.skops': not a skaudio_ad ...
    """
    sio = _skops_io()
    extra = _type_names(trusted)
    # Read once: the checks and the load see the same bytes even if the file changes.
    data = _read_bytes(path)
    _check_versions(path, _read_metadata(path, data))
    try:
        found = sio.get_untrusted_types(data=data)
    except Exception as exc:  # skops raises several types for a damaged schema
        raise ModelFileError(path, f"its skops schema cannot be read ({exc}).") from exc
    allowed = set(SKAUDIO_AD_TYPES) | set(extra)
    refused = sorted(set(found) - allowed)
    if refused:
        raise ModelFileError(
            path,
            f"it holds types that skaudio_ad does not trust: {refused}. Loading them could run "
            "arbitrary code. Inspect the file (skops.io.get_untrusted_types(file=...) lists "
            "them) and, only if you trust its source, load it with "
            f"skaudio_ad.load(path, trusted={refused}).",
            untrusted_types=refused,
        )
    try:
        return sio.loads(data, trusted=sorted(set(found)))
    except (zipfile.BadZipFile, KeyError, ValueError, EOFError, OSError) as exc:
        raise ModelFileError(path, f"the file is damaged and cannot be read ({exc}).") from exc
