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

Model files name the package's public types (``skaudio_ad.ConvAutoencoderDetector``), never
the private module that happens to define them, so that classes can move between modules;
files written by 0.1, which named ``skaudio_ad._detector.ConvAutoencoderDetector`` and
``skaudio_ad._features.MelSpectrogramTransformer``, load through :data:`TYPE_ALIASES`.

Bounded and validated: :func:`load` reads only regular files (a named pipe would block),
refuses a file whose archive would decompress to more than ``max_bytes`` (default
:data:`MAX_MODEL_BYTES`, 128 MiB; its schema at most an eighth of that) before decompressing
anything, checks that every array member's header fits its data, and after loading checks every
estimator in the model: its parameters, and for a fitted estimator its state (for the detector
every network weight's shape, dtype and finiteness against the network its parameters
describe). Anything wrong is a :class:`~skaudio_ad.exceptions.ModelFileError` naming the file
and the problem.

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
import stat
import warnings
import zipfile

import numpy as np

from .exceptions import ModelFileError

__all__ = ["FORMAT_VERSION", "MAX_MODEL_BYTES", "ModelFileError", "load", "save"]

#: Version of the model file layout (the metadata member and what it promises). Bump it when
#: a file written now could not be read correctly by the code that reads it.
FORMAT_VERSION = 1

#: Largest uncompressed size of a model file's archive that :func:`load` accepts, in bytes,
#: unless ``max_bytes`` says otherwise. The default model is about 1 MiB, a fleet of a hundred
#: about 100 MiB. Checked from the archive's directory, before anything is decompressed.
MAX_MODEL_BYTES = 128 * 2**20

_FORMAT = "skaudio_ad model"
_METADATA_MEMBER = "skaudio_ad.json"
# More members than this is no model (one array per weight and optimizer moment).
_MAX_MEMBERS = 100_000

# The types skaudio_ad's models are made of that skops does not trust by default: exactly the
# package's estimators, by their public names. Everything else a model holds (Pipeline, numpy
# arrays, dicts of arrays, floats, None) is on skops' default trusted list. A new public
# estimator must be added here; tests/test_persistence.py checks that every exported
# estimator is.
SKAUDIO_AD_TYPES = (
    "skaudio_ad.ConvAutoencoderDetector",
    "skaudio_ad.MelSpectrogramTransformer",
    "skaudio_ad.PerMachineDetector",
)

#: Type names written by earlier versions, and the public name each one now means.
TYPE_ALIASES = {
    "skaudio_ad._detector.ConvAutoencoderDetector": "skaudio_ad.ConvAutoencoderDetector",
    "skaudio_ad._features.MelSpectrogramTransformer": "skaudio_ad.MelSpectrogramTransformer",
    # Written by development builds of the fleet estimator before files named public types.
    "skaudio_ad._fleet.PerMachineDetector": "skaudio_ad.PerMachineDetector",
}


def _major_minor(version):
    match = re.match(r"(\d+)\.(\d+)", str(version))
    return (int(match[1]), int(match[2])) if match else None


def _skops_io():
    # Imported on first use: skops.io imports every scikit-learn module to build its trusted
    # list, which took 1.5-3.5 s, too long to add to `import skaudio_ad`.
    import skops.io

    return skops.io


def _metadata(model):
    import sklearn
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

    Raises
    ------
    ValueError
        When an estimator inside ``model`` is unusable (the checks :func:`load` makes: an
        invalid parameter, a missing fitted attribute, a weight of the wrong shape, a
        non-finite number); no file is written.

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
    from sklearn.base import BaseEstimator

    if not isinstance(model, BaseEstimator):
        raise TypeError(
            "model must be a scikit-learn estimator such as a fitted Pipeline or "
            f"ConvAutoencoderDetector; got {type(model).__name__}."
        )
    # The checks load() applies, before anything is written: a file that load() would refuse
    # is not written at all.
    for estimator in _estimators_in(model):
        try:
            _check_estimator(estimator)
        except Exception as exc:  # as load() does: ValueError, TypeError, ...
            raise ValueError(
                f"The model is not saved: its {type(estimator).__name__} is unusable "
                f"({_describe(exc)})."
            ) from exc
    _write_model_file(model, path)


def _write_model_file(model, path):
    """:func:`save` without its checks of the model (the tests write damaged files with it)."""
    sio = _skops_io()
    buffer = io.BytesIO(_rename_types(sio.dumps(model), _public_names()))
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


def _public_names():
    """``{where each public type is defined ("module.Class"): its public name}``."""
    import skaudio_ad

    names = {}
    for public in SKAUDIO_AD_TYPES:
        cls = getattr(skaudio_ad, public.rpartition(".")[2])
        names[f"{cls.__module__}.{cls.__qualname__}"] = public
    return names


def _rename_schema(node, names, depth=0):
    """Rename the types of a skops schema in place; returns whether anything changed."""
    if depth > 200:  # deeper than any model: a hostile schema, refused later by skops
        return False
    if isinstance(node, dict):
        changed = False
        module, cls = node.get("__module__"), node.get("__class__")
        if isinstance(module, str) and isinstance(cls, str):
            new = names.get(f"{module}.{cls}")
            if new is not None:
                node["__module__"], node["__class__"] = new.rsplit(".", 1)
                changed = True
        children = node.values()
    elif isinstance(node, list):
        changed, children = False, node
    else:
        return False
    for child in children:
        changed |= _rename_schema(child, names, depth + 1)
    return changed


def _rename_types(data, names):
    """The archive ``data`` with its schema's type names mapped through ``names``."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        schema = json.loads(archive.read("schema.json"))
        if not _rename_schema(schema, names):
            return data
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as new:
            for item in archive.infolist():
                member = (json.dumps(schema).encode() if item.filename == "schema.json"
                          else archive.read(item))
                new.writestr(item, member)
    return out.getvalue()


def _read_bytes(path, max_bytes):
    """The bytes of ``path``: a regular file of at most ``max_bytes``."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"model file {os.fspath(path)!r} does not exist.") from None
    except OSError as exc:
        raise ModelFileError(path, f"cannot access it ({exc.strerror or exc}).") from exc
    if stat.S_ISDIR(st.st_mode):
        raise ModelFileError(path, "it is a directory, not a model file.")
    if not stat.S_ISREG(st.st_mode):
        # Opening a FIFO blocks until a writer comes; a device may never end.
        kind = "a named pipe (FIFO)" if stat.S_ISFIFO(st.st_mode) else "a device or socket"
        raise ModelFileError(path, f"not a regular file ({kind}); give a model file.")
    if st.st_size > max_bytes:
        raise ModelFileError(path, _too_large(st.st_size, max_bytes, "the file is"))
    try:
        with open(path, "rb") as f:
            return f.read(max_bytes + 1)
    except OSError as exc:
        raise ModelFileError(path, f"cannot read it ({exc.strerror or exc}).") from exc


def _too_large(size, max_bytes, what):
    return (f"{what} {size / 2**20:.1f} MiB, more than the {max_bytes / 2**20:.1f} MiB limit "
            "for model files; if you trust it, raise the limit (load(path, max_bytes=...), "
            "skaudio-ad --max-model-size MB).")


def _check_archive(path, archive, max_bytes):
    """Refuse archives that would decompress beyond the limits, from their directory alone.

    zipfile never returns more than a member's declared size, so the declared sizes bound
    memory; numpy allocates an array from its header's shape, so every array header must
    fit its member's data.
    """
    items = archive.infolist()
    if len(items) > _MAX_MEMBERS:
        raise ModelFileError(path, f"damaged: its archive holds {len(items)} members, more "
                             f"than any model ({_MAX_MEMBERS}).")
    total = sum(item.file_size for item in items)
    if total > max_bytes:
        raise ModelFileError(path, _too_large(total, max_bytes, "uncompressed, its archive is"))
    for item in items:
        if item.filename in ("schema.json", _METADATA_MEMBER) and item.file_size > max_bytes // 8:
            raise ModelFileError(path, _too_large(item.file_size, max_bytes // 8,
                                                  f"its {item.filename} is"))
        if item.filename.endswith(".npy"):
            _check_array_header(path, archive, item)


def _check_array_header(path, archive, item):
    from numpy.lib import format as npy

    try:
        with archive.open(item) as f:
            version = npy.read_magic(f)
            read_header = (npy.read_array_header_1_0 if version == (1, 0)
                           else npy.read_array_header_2_0)
            shape, _, dtype = read_header(f, max_header_size=10_000)
            header_size = f.tell()
    except Exception as exc:  # numpy and zlib raise several types for a damaged header
        raise ModelFileError(path, f"damaged: array member {item.filename} has no valid "
                             f"header ({exc}).") from exc
    if dtype.hasobject:
        raise ModelFileError(path, f"damaged: array member {item.filename} holds Python "
                             "objects, which model files never do.")
    n_bytes = float(np.prod(shape, dtype=np.float64)) * dtype.itemsize
    if n_bytes > item.file_size - header_size:
        raise ModelFileError(path, f"damaged: array member {item.filename} claims shape "
                             f"{shape} ({n_bytes:.0f} bytes) but holds "
                             f"{item.file_size - header_size} bytes of data.")


def _read_metadata(path, data, max_bytes):
    """The metadata dict of the model file ``data`` read from ``path``.

    Raises ModelFileError when it is not a model file or its archive exceeds the limits.
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
            _check_archive(path, archive, max_bytes)
            raw = archive.read(_METADATA_MEMBER)
    except ModelFileError:
        raise
    except Exception as exc:  # BadZipFile, EOFError, zlib.error, NotImplementedError, ...
        reason = f"not a zip archive, or a truncated one: {exc}"
        raise ModelFileError(path, not_ours.format(reason)) from exc
    try:
        metadata = json.loads(raw)
    except (ValueError, RecursionError) as exc:
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


def load(path, *, trusted=None, max_bytes=None):
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
    max_bytes : int > 0 or None, default=None
        Largest size of the file, uncompressed, in bytes; None means
        :data:`MAX_MODEL_BYTES` (128 MiB). Checked before anything is decompressed.

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
        A ``ValueError`` naming the file: it is not a regular file (a FIFO, a device), not
        a model file (text, truncated, a plain zip), larger than ``max_bytes``, damaged
        (unreadable members, parameters that do not fit the network, non-finite weights or
        statistics), written by an incompatible version (the message names the version that
        wrote it and the one running), or it holds types that are neither skaudio_ad's nor
        in ``trusted`` (the message lists them).

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
    skaudio_ad.exceptions.ModelFileError: model file '...notes.skops': not a skaudio_ad ...
    """
    extra = _type_names(trusted)
    if max_bytes is None:
        max_bytes = MAX_MODEL_BYTES
    if not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes < 1:
        raise ValueError(f"max_bytes must be a positive int or None; got {max_bytes!r}.")
    # Read once: the checks and the load see the same bytes even if the file changes.
    data = _read_bytes(path, max_bytes)
    _check_versions(path, _read_metadata(path, data, max_bytes))
    # Only now the slow import (seconds): files refused above cost none of it.
    sio = _skops_io()
    try:
        data = _rename_types(data, TYPE_ALIASES)
        found = sio.get_untrusted_types(data=data)
    except Exception as exc:  # skops, json and zipfile raise several types for damage
        raise ModelFileError(path, f"its skops schema cannot be read ({_describe(exc)}).") from exc
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
        model = sio.loads(data, trusted=sorted(set(found)))
    except Exception as exc:  # a damaged archive fails anywhere in skops or numpy
        raise ModelFileError(path, f"the file is damaged and cannot be read "
                             f"({_describe(exc)}).") from exc
    _validate_model(path, model)
    return model


def _describe(exc):
    text = " ".join(str(exc).split())
    text = text if len(text) <= 300 else text[:300] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _estimators_in(obj, depth=0):
    """Every estimator inside ``obj``: Pipeline steps, meta-estimators' ``estimators_``, ..."""
    from sklearn.base import BaseEstimator

    if depth > 50:
        return
    if isinstance(obj, BaseEstimator):
        yield obj
        children = vars(obj).values()
    elif isinstance(obj, dict):
        children = obj.values()
    elif isinstance(obj, (list, tuple)):
        children = obj
    else:
        return
    for child in children:
        yield from _estimators_in(child, depth + 1)


def _check_estimator(estimator):
    """One estimator's parameters and fitted state; raises what their checks raise."""
    if getattr(type(estimator), "_parameter_constraints", None) is not None:
        estimator._validate_params()
    check = getattr(estimator, "_validate_state", None)
    if check is not None:
        check()


def _validate_model(path, model):
    """Check every estimator of a loaded model before it is used: ModelFileError if damaged."""
    for estimator in _estimators_in(model):
        name = type(estimator).__name__
        _add_missing_parameters(estimator)
        try:
            _check_estimator(estimator)
        except Exception as exc:  # InvalidParameterError, ValueError, TypeError, ...
            raise ModelFileError(path, f"it is damaged: its {name} is unusable "
                                 f"({_describe(exc)}).") from exc


def _add_missing_parameters(estimator):
    """Parameters added to a class after the file was written take their defaults.

    A file of an earlier release lacks them, and ``get_params`` would fail. A new parameter's
    default must therefore keep the earlier behaviour; tests/test_persistence.py loads a file
    written by 0.1 and checks its scores.
    """
    import inspect

    try:
        signature = inspect.signature(type(estimator).__init__)
    except (TypeError, ValueError):
        return
    for parameter in signature.parameters.values():
        if (parameter.kind is parameter.KEYWORD_ONLY or parameter.kind is
                parameter.POSITIONAL_OR_KEYWORD) and parameter.name != "self":
            if parameter.default is not parameter.empty and not hasattr(estimator,
                                                                        parameter.name):
                setattr(estimator, parameter.name, parameter.default)
