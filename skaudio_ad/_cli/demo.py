"""``skaudio-ad demo``: synthetic fan sounds -> train -> metrics, plots and a model file.

Three steps, one function each: :func:`_make_data`, :func:`_train`, :func:`_report`.
"""

import os
import time

from ._common import EXIT_OK, PROG, QUIET, check_output_folder
from ._report import print_metrics, save_plots


def register(add_parser):
    demo = add_parser(
        "demo", help="train and evaluate on synthetic fan sounds, save plots and the model",
        description="Generate synthetic fan recordings with planted anomalies, train a "
        "detector, print test metrics and save plots and the model into --out.")
    demo.add_argument("--out", default="demo_output", metavar="DIR",
                      help="folder for the plots and model.skops")
    demo.add_argument("--quick", action="store_true", help="a tiny run of a few seconds")
    demo.add_argument("--seed", type=int, default=0, help="random seed")
    demo.add_argument("--quiet", **QUIET)
    demo.set_defaults(run=run)


def run(args):
    check_output_folder(args.out, "plots and model")
    start = time.perf_counter()
    data = _make_data(args)
    model = _train(args, data)
    _report(args, data, model, start)
    return EXIT_OK


def _make_data(args):
    from ..datasets import make_machine_sounds

    # Default sized to finish in about a minute on a 2-core laptop CPU; --quick for tests.
    n_train, n_test, duration, epochs = (24, 8, 1.5, 3) if args.quick else (200, 60, 5.0, 60)
    print(
        f"skaudio-ad demo: synthetic fan sounds at 0 dB SNR, {duration:g} s clips at 16 kHz.\n"
        f"Generating {n_train} normal training clips and a test set of {n_test} normal + "
        f"{n_test} anomalous clips...",
        flush=True,
    )
    X_train, _ = make_machine_sounds(n_train, 0, machine="fan", duration=duration, snr_db=0.0,
                                     random_state=args.seed)
    # Another seed draws other clips of the same machine.
    X_test, y_test, meta = make_machine_sounds(
        n_test, n_test, machine="fan", duration=duration, snr_db=0.0,
        random_state=args.seed + 1, return_metadata=True,
    )
    return dict(X_train=X_train, X_test=X_test, y_test=y_test, meta=meta, duration=duration,
                epochs=epochs)


def _train(args, data):
    from sklearn.pipeline import Pipeline

    from .._detector import ConvAutoencoderDetector
    from .._features import MelSpectrogramTransformer

    detector = ConvAutoencoderDetector(
        max_epochs=data["epochs"], random_state=args.seed, verbose=0 if args.quiet else 1,
        **(dict(hidden_channels=16, latent_dim=8, patch_frames=16) if args.quick else {}),
    )
    model = Pipeline([("mel", MelSpectrogramTransformer(duration=data["duration"])),
                      ("detector", detector)])
    print(f"Training a convolutional autoencoder for up to {data['epochs']} epochs...",
          flush=True)
    model.fit(data["X_train"])
    print(f"Trained {detector.n_epochs_} epochs (kept epoch {detector.best_epoch_}).")
    return model


def _report(args, data, model, start):
    import numpy as np

    from .._persistence import save

    mel, detector = model[0], model[-1]
    y_test, meta, duration = data["y_test"], data["meta"], data["duration"]
    S_train, S_test = mel.transform(data["X_train"]), mel.transform(data["X_test"])
    train_score = -detector.score_samples(S_train)
    valid = np.zeros(len(S_train), dtype=bool)
    valid[detector.validation_indices_] = True
    errors = detector.frame_errors(S_test)
    test_score, threshold = -detector.score_samples(S_test), -detector.offset_
    predicted = detector.predict(S_test)
    print_metrics(y_test, test_score, predicted, threshold, "Test set")

    # Show a detected anomaly, preferably an episodic one whose interval is known.
    anomalous = np.flatnonzero(y_test == 1)
    episodic = anomalous[meta.anomaly_end[anomalous] - meta.anomaly_start[anomalous]
                         < 0.99 * duration]
    detected = episodic[predicted[episodic] == -1]
    pool = detected if len(detected) else anomalous
    i_anom = int(pool[np.argmax(test_score[pool])])
    normal = np.flatnonzero(y_test == 0)
    i_norm = int(normal[np.argsort(test_score[normal])[len(normal) // 2]])
    kind = meta.anomaly_type[i_anom]
    spans = ([(meta.anomaly_start[i_anom], meta.anomaly_end[i_anom])]
             if i_anom in episodic else None)
    written = save_plots(
        args.out, y_true=y_test, anomaly_score=test_score, y_pred=predicted, model=model,
        groups={"train": train_score[~valid], "validation": train_score[valid],
                "test normal": test_score[y_test == 0],
                "test anomalous": test_score[y_test == 1]},
        normal=(S_test[i_norm], errors[i_norm],
                f"normal test clip (score {test_score[i_norm]:.3g})", None, None),
        anomalous=(S_test[i_anom], errors[i_anom],
                   f"anomalous test clip: {kind}, severity {meta.severity[i_anom]:.2f} "
                   f"(score {test_score[i_anom]:.3g})", spans, f"true {kind} interval"),
    )
    model_path = os.path.join(args.out, "model.skops")
    save(model, model_path)
    print(f"Plots saved in {args.out}:\n" + "".join(f"  {p}\n" for p in written)
          + f"Model saved to {model_path}; score recordings with:\n"
          f"  {PROG} score {model_path} RECORDING.wav ...\n"
          f"Done in {time.perf_counter() - start:.0f} s.", flush=True)
