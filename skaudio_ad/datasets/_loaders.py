"""Loaders for the MIMII and DCASE 2020 Task 2 folder layouts: file lists, labels and splits.

The loaders read folder and file names only; audio is decoded (with
:func:`skaudio_ad.io.load_audio`) only when ``load_audio=True``. Nothing is downloaded.
"""

import numbers
import os
import re
import warnings
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

__all__ = ["load_dcase2020", "load_mimii"]

_SNR_DIR = re.compile(r"^(-?\d+(?:\.\d+)?)_dB_(.+)$")
_ID_DIR = re.compile(r"^id_\d+$")
# DCASE 2020 names: "<normal|anomaly>_id_XX_NNNNNNNN.wav"; evaluation test clips are unlabeled.
_DCASE_FILE = re.compile(r"^(?:(normal|anomaly)_)?(id_\d+)_\d+\.wav$", re.IGNORECASE)
_TARGET_NAMES = np.array(["normal", "anomaly"])

_MIMII_DESCR = """\
MIMII: Malfunctioning Industrial Machine Investigation and Inspection (Purohit et al., DCASE
2019 workshop; CC BY-SA 4.0). 16 kHz, 16-bit, 8-channel, 10 s recordings of fans, pumps,
valves and slide rails (4 machine ids each), normal and abnormal, mixed with factory noise at
6, 0 and -6 dB SNR. Layout: <root>/<snr>_dB_<machine>/<machine>/id_XX/{normal,abnormal}/*.wav.
target: 1 = anomaly (folder "abnormal"), 0 = normal. split follows the MIMII baseline: per
machine id and SNR, the first N_abnormal normal files (sorted) and all abnormal files are
"test", the remaining normal files "train".
"""

_DCASE_DESCR = """\
DCASE 2020 Challenge Task 2, unsupervised detection of anomalous sounds for machine condition
monitoring (Koizumi et al.); machine types fan, pump, slider, valve (from MIMII, CC BY-SA 4.0)
and ToyCar, ToyConveyor (from ToyADMOS). Single-channel 16 kHz clips of about 10 s. Layout:
<root>/dev_data/<machine>/{train,test}/{normal,anomaly}_id_XX_NNNNNNNN.wav; train holds normal
clips only. target: 1 = anomaly, 0 = normal, -1 = unlabeled (evaluation-set test clips, named
id_XX_NNNNNNNN.wav). split is the folder, "train" or "test".
"""


# --------------------------------------------------------------------------- shared helpers
def _check_root(root):
    try:
        path = Path(os.fspath(root)).expanduser()
    except TypeError:
        raise ValueError(f"root must be a path (str or os.PathLike); got {root!r}.") from None
    if not path.is_dir():
        raise FileNotFoundError(
            f"root={os.fspath(root)!r} is not a directory: point it at the unpacked dataset."
        )
    return path


def _subdirs(path):
    return sorted(entry.name for entry in os.scandir(path) if entry.is_dir())


def _found(path, limit=8):
    """A few entries of ``path``, for error messages."""
    names = sorted(os.listdir(path))
    shown = ", ".join(repr(n + ("/" if (path / n).is_dir() else "")) for n in names[:limit])
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return f"found {shown}{more}" if names else "found an empty folder"


def _check_flag(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False; got {value!r}.")


def _id_names(machine_id):
    """``machine_id`` as a set of folder-style names ("id_00"), or None for all ids."""
    if machine_id is None:
        return None
    values = [machine_id] if isinstance(machine_id, (str, numbers.Integral)) else machine_id
    try:
        values = list(values)
    except TypeError:
        values = [machine_id]
    names = set()
    for value in values:
        if isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 0:
            names.add(f"id_{int(value):02d}")
        elif isinstance(value, str) and re.fullmatch(r"(id_)?\d+", value):
            digits = value.removeprefix("id_")
            names.add(f"id_{int(digits):02d}" if len(digits) < 2 else f"id_{digits}")
        else:
            raise ValueError(
                "machine_id must be None, an id such as 'id_00' or 0, or a list of them; "
                f"got {value!r}."
            )
    if not names:
        raise ValueError("machine_id is an empty list: pass None to load every machine id.")
    return names


def _select_ids(ids, wanted, where):
    """Mask of ``ids`` in ``wanted``; ValueError listing the ids present when one is missing."""
    if wanted is None:
        return np.ones(len(ids), dtype=bool)
    available = sorted(set(ids))
    missing = sorted(wanted - set(available))
    if missing:
        raise ValueError(
            f"machine_id {missing} not found under {where}; available ids: {available}."
        )
    return np.isin(ids, sorted(wanted))


def _bunch(records, *, descr, load_audio, sr, duration, read_channel, **extra):
    """Sort ``records`` (dicts) by file name and assemble the Bunch, reading audio if asked."""
    records = sorted(records, key=lambda r: r["filename"])
    columns = {key: [r[key] for r in records] for key in records[0]}
    bunch = Bunch(
        filenames=np.array(columns.pop("filename"), dtype=str),
        target=np.array(columns.pop("target"), dtype=np.int64),
        machine_id=np.array(columns.pop("machine_id"), dtype=str),
        split=np.array(columns.pop("split"), dtype=str),
        **{key: np.array(values) for key, values in columns.items()},
        target_names=_TARGET_NAMES.copy(),
        DESCR=descr,
        **extra,
    )
    if load_audio:
        # Imported here so the datasets package imports even where audio I/O is unavailable.
        from ..io import load_audio as read

        bunch.data = read(list(bunch.filenames), sr=sr, channel=read_channel, duration=duration)
    return bunch


# --------------------------------------------------------------------------- MIMII
def _mimii_machine_dirs(root, machine_type):
    """``[(folder holding id_XX/, snr)]`` for ``machine_type`` under ``root``."""
    snr_dirs = [(name, _SNR_DIR.match(name)) for name in _subdirs(root)]
    snr_dirs = [(name, float(m.group(1)), m.group(2)) for name, m in snr_dirs if m]
    if snr_dirs:  # full layout: <root>/<snr>_dB_<machine>/<machine>/id_XX/
        dirs = [(root / name / machine, snr) for name, snr, machine in snr_dirs
                if machine == machine_type and (root / name / machine).is_dir()]
        if not dirs:
            available = sorted({machine for _, _, machine in snr_dirs})
            raise ValueError(
                f"machine_type={machine_type!r} not found under {str(root)!r} (MIMII layout "
                f"<snr>_dB_<machine>/<machine>/); available machine types: {available}."
            )
        return dirs
    # Bare layout, <root>/<machine>/id_XX/; the SNR is known only from an "<snr>_dB_..." root.
    m = _SNR_DIR.match(root.name)
    snr = float(m.group(1)) if m else np.nan
    if (root / machine_type).is_dir():
        return [(root / machine_type, snr)]
    if root.name == machine_type and any(_ID_DIR.match(d) for d in _subdirs(root)):
        m = _SNR_DIR.match(root.parent.name)
        return [(root, float(m.group(1)) if m else np.nan)]
    available = [d for d in _subdirs(root) if any(_ID_DIR.match(s) for s in _subdirs(root / d))]
    if available:
        raise ValueError(
            f"machine_type={machine_type!r} not found under {str(root)!r}; available machine "
            f"types: {available}."
        )
    raise FileNotFoundError(
        f"no MIMII data under {str(root)!r}: expected <root>/<snr>_dB_<machine>/<machine>/"
        f"id_XX/{{normal,abnormal}}/*.wav (e.g. 6_dB_fan/fan/id_00/normal/00000000.wav) or "
        f"<root>/<machine>/id_XX/{{normal,abnormal}}/*.wav; {_found(root)}."
    )


def _mimii_records(machine_dir, snr):
    """Records of one machine folder, with the MIMII baseline train/test split per id."""
    records = []
    for machine_id in [d for d in _subdirs(machine_dir) if _ID_DIR.match(d)]:
        normal = sorted(str(p) for p in (machine_dir / machine_id / "normal").glob("*.wav"))
        abnormal = sorted(str(p) for p in (machine_dir / machine_id / "abnormal").glob("*.wav"))
        # MIMII baseline (Purohit et al. 2019): the first N_abnormal normal files are tested.
        n_test = len(abnormal)
        for i, filename in enumerate(normal):
            records.append({"filename": filename, "target": 0, "machine_id": machine_id,
                            "split": "test" if i < n_test else "train", "snr": snr})
        records += [{"filename": f, "target": 1, "machine_id": machine_id, "split": "test",
                     "snr": snr} for f in abnormal]
    return records


def _snr_values(snr):
    """``snr`` as a set of floats, or None for all SNRs."""
    if snr is None:
        return None
    values = [snr] if isinstance(snr, numbers.Real) else snr
    try:
        values = list(values)
    except TypeError:
        values = [snr]
    if not values or not all(
        isinstance(v, numbers.Real) and not isinstance(v, bool) and np.isfinite(v) for v in values
    ):
        raise ValueError(
            "snr must be None, a number of dB such as 6, or a list such as [6, 0, -6]; "
            f"got {snr!r}."
        )
    return {float(v) for v in values}


def load_mimii(
    root,
    *,
    machine_type: str,
    machine_id=None,
    snr=None,
    channel=0,
    load_audio: bool = False,
    sr: int = 16000,
    duration: float | None = None,
):
    """Load the file list, labels and baseline split of the MIMII dataset.

    Two layouts are understood:

    - the full dataset, ``<root>/<snr>_dB_<machine>/<machine>/id_XX/{normal,abnormal}/*.wav``
      (folders such as ``6_dB_fan``, ``0_dB_fan``, ``-6_dB_fan``, as unpacked from the 12
      archives); ``root`` may also be one ``<snr>_dB_<machine>`` folder;
    - a bare ``<root>/<machine>/id_XX/{normal,abnormal}/*.wav``, whose SNR is unknown and
      recorded as NaN (unless the root folder itself is named ``<snr>_dB_<machine>``).

    Parameters
    ----------
    root : str or os.PathLike
        Folder described above.
    machine_type : str
        ``"fan"``, ``"pump"``, ``"slider"`` or ``"valve"`` (the folder name).
    machine_id : None, str, int or list of them, default=None
        Machine ids to keep (``"id_00"``, ``0`` or ``[0, 2]``); None keeps all.
    snr : None, float or list of float, default=None
        SNR conditions to keep in dB (``6`` or ``[6, 0, -6]``); None keeps all. Must be None
        when the SNR of the layout is unknown.
    channel : int >= 0 or "mean", default=0
        Microphone to read when ``load_audio=True`` (MIMII has 8; published systems use 0).
    load_audio : bool, default=False
        Also read the waveforms into ``data``.
    sr : int > 0, default=16000
        Sample rate of ``data`` (resampled when needed).
    duration : float > 0 or None, default=None
        Crop or zero-pad ``data`` to this many seconds.

    Returns
    -------
    data : Bunch
        ``filenames`` (str, sorted), ``target`` (int, 1 = anomaly, 0 = normal),
        ``machine_id`` (str, ``"id_00"``...), ``snr`` (float dB, NaN when unknown), ``split``
        (``"train"`` / ``"test"``, arrays of shape ``(n_files,)``); ``data`` (float32
        ``(n_files, n_samples)``, only with ``load_audio=True``); ``target_names``,
        ``machine_type``, ``channel`` and ``DESCR``.

        ``split`` follows the MIMII baseline protocol: per machine id and SNR, the first
        ``N_abnormal`` normal files (sorted by name) and all abnormal files are ``"test"``,
        the remaining normal files ``"train"``.

    Raises
    ------
    FileNotFoundError
        ``root`` is not a folder, holds neither layout, or the selection holds no WAV file.
    ValueError
        A parameter is malformed, or names a machine type, id or SNR that ``root`` does not
        hold (the message lists those it holds).

    See Also
    --------
    load_dcase2020 : The DCASE 2020 Task 2 layout of the same recordings.
    make_machine_sounds : Synthetic clips of the same machine types.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np, soundfile as sf
    >>> from skaudio_ad.datasets import load_mimii
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for label, n in [("normal", 5), ("abnormal", 2)]:
    ...     folder = root / "6_dB_fan" / "fan" / "id_00" / label
    ...     folder.mkdir(parents=True)
    ...     for i in range(n):
    ...         sf.write(folder / f"{i:08d}.wav", np.zeros((1600, 8)), 16000)
    >>> mimii = load_mimii(root, machine_type="fan")
    >>> mimii.target.tolist()
    [1, 1, 0, 0, 0, 0, 0]
    >>> mimii.split.tolist()
    ['test', 'test', 'test', 'test', 'train', 'train', 'train']
    >>> mimii.snr[0]
    np.float64(6.0)
    >>> load_mimii(root, machine_type="fan", load_audio=True, channel=3).data.shape
    (7, 1600)
    """
    root = _check_root(root)
    if not isinstance(machine_type, str) or not machine_type:
        raise ValueError(f"machine_type must be a folder name such as 'fan'; got {machine_type!r}.")
    _check_flag("load_audio", load_audio)
    wanted_ids = _id_names(machine_id)
    wanted_snrs = _snr_values(snr)

    machine_dirs = _mimii_machine_dirs(root, machine_type)
    if wanted_snrs is not None:
        known = sorted(s for _, s in machine_dirs if not np.isnan(s))
        if not known:
            raise ValueError(
                f"snr={snr!r} was given but the SNR of the data under {str(root)!r} is unknown "
                "(no <snr>_dB_<machine> folder); pass snr=None."
            )
        missing = sorted(wanted_snrs - set(known))
        if missing:
            raise ValueError(f"snr {missing} not found under {str(root)!r}; available: {known}.")
        machine_dirs = [(d, s) for d, s in machine_dirs if s in wanted_snrs]

    records = [r for d, s in machine_dirs for r in _mimii_records(d, s)]
    if not records:
        folders = ", ".join(repr(str(d)) for d, _ in machine_dirs[:3])
        raise FileNotFoundError(
            f"no WAV files in {folders}: expected id_XX/{{normal,abnormal}}/*.wav inside; "
            f"{_found(machine_dirs[0][0])}."
        )
    keep = _select_ids([r["machine_id"] for r in records], wanted_ids, repr(str(root)))
    records = [r for r, k in zip(records, keep, strict=True) if k]
    return _bunch(records, descr=_MIMII_DESCR, load_audio=load_audio, sr=sr, duration=duration,
                  read_channel=channel, machine_type=machine_type, channel=channel)


# --------------------------------------------------------------------------- DCASE 2020
def _is_dcase_machine_dir(path):
    return (path / "train").is_dir() or (path / "test").is_dir()


def _match_type(folder, machine_type):
    """Sub-folder of ``folder`` named ``machine_type``, exactly or else ignoring case."""
    names = [d for d in _subdirs(folder) if _is_dcase_machine_dir(folder / d)]
    if machine_type in names:
        return folder / machine_type, names
    folded = [d for d in names if d.lower() == machine_type.lower()]
    return (folder / folded[0] if len(folded) == 1 else None), names


def _dcase_machine_dir(root, machine_type):
    """Folder holding ``{train,test}/`` for ``machine_type``, from any accepted ``root``."""
    if root.name.lower() == machine_type.lower() and _is_dcase_machine_dir(root):
        return root
    for data_dir in (root / "dev_data", root / "eval_data", root):
        if not data_dir.is_dir():
            continue
        found, names = _match_type(data_dir, machine_type)
        if found is not None:
            return found
        if names:
            raise ValueError(
                f"machine_type={machine_type!r} not found in {str(data_dir)!r}; available "
                f"machine types: {names}."
            )
    raise FileNotFoundError(
        f"no DCASE 2020 Task 2 data under {str(root)!r}: expected <root>/dev_data/<machine>/"
        f"{{train,test}}/*.wav (e.g. dev_data/fan/train/normal_id_00_00000000.wav), with root "
        f"the folder holding dev_data, dev_data itself, or dev_data/<machine>; {_found(root)}."
    )


def load_dcase2020(
    root,
    *,
    machine_type: str,
    machine_id=None,
    split: str | None = None,
    load_audio: bool = False,
    sr: int = 16000,
    duration: float | None = None,
):
    """Load the file list, labels and splits of DCASE 2020 Task 2 data.

    The layout is ``<root>/dev_data/<machine>/{train,test}/{normal,anomaly}_id_XX_NNNNNNNN.wav``.
    ``root`` may be the folder holding ``dev_data``, ``dev_data`` itself, or
    ``dev_data/<machine>``. The evaluation set loads the same way from ``eval_data`` (used
    when the root holds no ``dev_data``, or given directly); its test clips, named
    ``id_XX_NNNNNNNN.wav``, carry no label and get ``target = -1``.

    Parameters
    ----------
    root : str or os.PathLike
        Folder described above.
    machine_type : str
        ``"fan"``, ``"pump"``, ``"slider"``, ``"valve"``, ``"ToyCar"`` or ``"ToyConveyor"``
        (case is ignored when unambiguous).
    machine_id : None, str, int or list of them, default=None
        Machine ids to keep (``"id_00"``, ``0`` or ``[0, 2]``); None keeps all.
    split : {"train", "test"} or None, default=None
        Folder to load; None loads both.
    load_audio : bool, default=False
        Also read the waveforms into ``data``.
    sr : int > 0, default=16000
        Sample rate of ``data`` (resampled when needed).
    duration : float > 0 or None, default=None
        Crop or zero-pad ``data`` to this many seconds (ToyCar clips last 11 s, the others 10).

    Returns
    -------
    data : Bunch
        ``filenames`` (str, sorted), ``target`` (int, 1 = anomaly, 0 = normal, -1 =
        unlabeled), ``machine_id`` (str, ``"id_00"``...), ``split`` (``"train"`` /
        ``"test"``, the folder), arrays of shape ``(n_files,)``; ``data`` (float32
        ``(n_files, n_samples)``, only with ``load_audio=True``); ``target_names``,
        ``machine_type`` (as spelled on disk) and ``DESCR``.

    Raises
    ------
    FileNotFoundError
        ``root`` is not a folder, does not hold the layout, or the selection holds no WAV file.
    ValueError
        A parameter is malformed, or names a machine type, id or split that ``root`` does not
        hold (the message lists those it holds).

    See Also
    --------
    load_mimii : The MIMII recordings, with their SNR conditions.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np, soundfile as sf
    >>> from skaudio_ad.datasets import load_dcase2020
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> names = ["train/normal_id_00_00000000.wav", "train/normal_id_00_00000001.wav",
    ...          "test/normal_id_00_00000000.wav", "test/anomaly_id_00_00000000.wav"]
    >>> for name in names:
    ...     path = root / "dev_data" / "slider" / name
    ...     path.parent.mkdir(parents=True, exist_ok=True)
    ...     sf.write(path, np.zeros(1600), 16000)
    >>> dcase = load_dcase2020(root, machine_type="slider")
    >>> dcase.split.tolist(), dcase.target.tolist()
    (['test', 'test', 'train', 'train'], [1, 0, 0, 0])
    >>> load_dcase2020(root, machine_type="slider", split="train", load_audio=True).data.shape
    (2, 1600)
    """
    root = _check_root(root)
    if not isinstance(machine_type, str) or not machine_type:
        raise ValueError(
            f"machine_type must be a folder name such as 'fan' or 'ToyCar'; got {machine_type!r}."
        )
    if split not in (None, "train", "test"):
        raise ValueError(f"split must be None, 'train' or 'test'; got {split!r}.")
    _check_flag("load_audio", load_audio)
    wanted_ids = _id_names(machine_id)

    machine_dir = _dcase_machine_dir(root, machine_type)
    splits = [s for s in ("train", "test") if (machine_dir / s).is_dir()]
    if split is not None:
        if split not in splits:
            raise ValueError(
                f"split={split!r} not found in {str(machine_dir)!r}; available: {splits}."
            )
        splits = [split]
    records, unmatched = [], []
    for name in splits:
        for path in sorted((machine_dir / name).glob("*.wav")):
            m = _DCASE_FILE.match(path.name)
            if m is None:
                unmatched.append(path.name)
                continue
            label = (m.group(1) or "").lower()
            target = {"normal": 0, "anomaly": 1}.get(label, -1)
            records.append({"filename": str(path), "target": target,
                            "machine_id": m.group(2).lower(), "split": name})
    if unmatched:
        warnings.warn(
            f"skipped {len(unmatched)} WAV file(s) in {str(machine_dir)!r} not named "
            f"[normal_|anomaly_]id_XX_NNNNNNNN.wav, e.g. {unmatched[:3]}.",
            UserWarning,
            stacklevel=2,
        )
    if not records:
        raise FileNotFoundError(
            f"no DCASE WAV files in {str(machine_dir)!r} (split={split!r}): expected "
            f"{{train,test}}/{{normal,anomaly}}_id_XX_NNNNNNNN.wav; {_found(machine_dir)}."
        )
    keep = _select_ids([r["machine_id"] for r in records], wanted_ids, repr(str(machine_dir)))
    records = [r for r, k in zip(records, keep, strict=True) if k]
    return _bunch(records, descr=_DCASE_DESCR, load_audio=load_audio, sr=sr, duration=duration,
                  read_channel=0, machine_type=machine_dir.name)
