"""Write ``model-0.1.skops`` and its expected scores with skaudio_ad 0.1 (run once, kept).

The file was written by the code at commit a4c0479 (skaudio_ad 0.1.0.dev0), whose model files
name the private modules ``skaudio_ad._detector`` / ``skaudio_ad._features``. The test
``tests/test_persistence.py::test_model_written_by_0_1_loads_with_identical_scores`` loads it
with the current code and asserts the scores below, so moving or renaming the estimator
classes can never again silently break saved models.

Run from the repository root: ``python tests/data/make_model_0_1.py``.
"""

import json
from pathlib import Path

import numpy as np
from sklearn.pipeline import Pipeline

import skaudio_ad
from skaudio_ad import ConvAutoencoderDetector, MelSpectrogramTransformer

HERE = Path(__file__).resolve().parent
SR = 8000


def inputs():
    """The fixed inputs: 6 training and 4 scoring clips of 0.5 s at 8 kHz (tones in noise)."""
    rng = np.random.default_rng(0)
    t = np.arange(SR // 2) / SR
    tone = np.sin(2 * np.pi * 440.0 * t)
    train = 0.3 * tone + 0.05 * rng.standard_normal((6, t.size))
    test = np.concatenate([
        0.3 * tone + 0.05 * rng.standard_normal((2, t.size)),
        0.3 * np.sin(2 * np.pi * 1500.0 * t) + 0.2 * rng.standard_normal((2, t.size)),
    ])
    return train.astype(np.float32), test.astype(np.float32)


def main():
    train, test = inputs()
    model = Pipeline([
        ("mel", MelSpectrogramTransformer(sr=SR, n_fft=256, hop_length=64, n_mels=16)),
        ("detector", ConvAutoencoderDetector(hidden_channels=4, latent_dim=2, patch_frames=8,
                                             max_epochs=2, validation_fraction=0.0,
                                             random_state=0)),
    ]).fit(train)
    skaudio_ad.save(model, HERE / "model-0.1.skops")
    expected = {
        "skaudio_ad_version": skaudio_ad.__version__,
        "score_samples": model.score_samples(test).tolist(),
        "offset_": float(model[-1].offset_),
    }
    (HERE / "model-0.1.expected.json").write_text(json.dumps(expected, indent=1) + "\n")


if __name__ == "__main__":
    main()
