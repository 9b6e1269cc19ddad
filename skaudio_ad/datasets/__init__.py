"""Datasets: synthetic machine sounds and loaders for MIMII and DCASE 2020 Task 2.

Labels follow the MIMII / DCASE convention: ``target`` (or ``y``) is 1 for an anomaly and 0
for a normal clip, whereas scikit-learn detectors ``predict`` -1 for an anomaly.
"""

from ._loaders import load_dcase2020, load_mimii
from ._mixing import mix_background
from ._synthetic import make_machine_sounds

__all__ = ["load_dcase2020", "load_mimii", "make_machine_sounds", "mix_background"]
