"""The exceptions skaudio_ad raises, in one public home.

Every one is a ``ValueError`` (the caller gave something unusable), carries the offending
file in ``path`` and the problem in words in ``reason``, and pickles with both, so errors
raised in joblib, Dask or Ray workers arrive intact.

* :class:`AudioReadError`: an audio file cannot be used (missing, not audio, empty, too
  long, not a regular file, non-finite samples, ...).
* :class:`ModelFileError`: a file is not a usable model file (not a model, damaged,
  incompatible version, untrusted types, too large).

Examples
--------
>>> from skaudio_ad.exceptions import AudioReadError
>>> err = AudioReadError("fan.wav", "no such file")
>>> str(err)
"cannot read audio file 'fan.wav': no such file"
>>> isinstance(err, ValueError), err.path, err.reason
(True, 'fan.wav', 'no such file')
"""

import os

__all__ = ["AudioReadError", "ModelFileError"]


class AudioReadError(ValueError):
    """A file could not be read, or used, as audio.

    Parameters
    ----------
    path : str or os.PathLike
        The file, as the caller gave it.
    reason : str
        What went wrong, in words.

    Attributes
    ----------
    path : str or os.PathLike
        The file, as the caller gave it.
    reason : str
        What went wrong, in words.
    """

    def __init__(self, path, reason):
        self.path = path
        self.reason = reason
        super().__init__(f"cannot read audio file {os.fspath(path)!r}: {reason}")

    def __reduce__(self):
        # The default reduce would call __init__(message) and lose `path`.
        return (type(self), (self.path, self.reason))


class ModelFileError(ValueError):
    """A file is not a usable skaudio_ad model file.

    Raised for files that are not model files at all, damaged files (unreadable archives,
    parameters of the wrong shape, non-finite weights), files larger than the size limit,
    files written by an incompatible version, and files holding types that are not trusted.

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
