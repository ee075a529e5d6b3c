"""Cross-dataset evaluation: train on one dataset, test on several (EmotionalDAN Tables 2, 3;
`python -m ferjax.evaluate`).

Test images are normalised with the TRAINING set's statistics, as the paper states; the
authors' code standardised each test set by its own statistics, a bug. Every test set is read
in the run's label space (3, 7 or 8 classes) and input size (config_for_test_set).

Label spaces that differ (7 <-> 8 classes):
  * the model lacks a class the test set has (a 7-class model on CK+'s contempt): those
    examples cannot be scored; they are dropped and counted (dropped_by_class);
  * the test set lacks a class the model has (an 8-class model on FER-2013, which has no
    contempt): policy "restrict" (the default) takes the argmax over the classes the test set
    can hold, so both models answer the same 7-way question; policy "wrong" keeps the plain
    argmax, so a contempt prediction is an error. Either way the report gives the other
    policy's accuracy and macro-F1 and how many plain predictions fell outside the test set's
    classes (predicted_outside_target).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ferjax import labels as label_lib
from ferjax.data import pipeline
from ferjax.evaluation import metrics, tta

ABSENT_CLASS_POLICIES = ("restrict", "wrong")


def predict_logits(apply_logits, source, transform, batch_size: int):
    """(labels (N,), scores (N, K)) over every record of `source`; apply_logits maps a
    normalised float32 (B, H, W, C) batch to logits (B, K). Scores are the logits, or, with a
    test-time augmentation transform (tta.eval_transform), the log of the views' mean
    probabilities (same argmax as the averaged probabilities)."""
    labels, scores = [], []
    for batch in pipeline.eval_batches(source, transform, local_batch_size=batch_size):
        keep = batch["weight"] > 0
        labels.append(batch["label"][keep])
        if "views" in batch:
            mean = tta.view_probabilities(lambda x: {"logits": apply_logits(x)},
                                          jnp.asarray(batch["views"]))
            batch_scores = np.log(np.maximum(np.asarray(mean, np.float32), 1e-30))
        else:
            batch_scores = np.asarray(apply_logits(batch["image"]), np.float32)
        scores.append(batch_scores[keep])
    return np.concatenate(labels), np.concatenate(scores)


def predict(model, variables, source, transform, batch_size: int):
    """(labels (N,), predicted classes (N,)) over every record of `source` (with a TTA
    transform: the argmax of the views' mean probabilities)."""
    forward = jax.jit(lambda x: model.apply(variables, x, train=False)["logits"])
    truth, logits = predict_logits(forward, source, transform, batch_size)
    return truth, np.argmax(logits, -1)


def scored_classes(label_space: str, target_classes: Sequence[str]) -> np.ndarray:
    """bool (K,) over the classes of `label_space`: True where the test set can hold the class
    (some canonical class of `target_classes` maps onto it)."""
    table = label_lib.label_map_table(label_space)
    allowed = np.zeros(len(label_lib.label_space_classes(label_space)), bool)
    for name in target_classes:
        mapped = table[label_lib.class_index(name)]
        if mapped >= 0:
            allowed[mapped] = True
    return allowed


def dropped_by_class(canonical_labels: np.ndarray, label_space: str) -> dict[str, int]:
    """{canonical class name: count} of test examples whose class `label_space` lacks."""
    table = label_lib.label_map_table(label_space)
    counts = np.bincount(np.asarray(canonical_labels, np.int64), minlength=label_lib.NUM_CLASSES)
    return {label_lib.CLASSES[c]: int(counts[c]) for c in range(label_lib.NUM_CLASSES)
            if table[c] < 0 and counts[c]}


def restricted_argmax(logits: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """(N,) argmax of logits (N, K) over the classes where allowed (K,) is True."""
    if not np.any(allowed):
        raise ValueError("the test set shares no class with the model's label space")
    return np.argmax(np.where(np.asarray(allowed)[None, :], logits, -np.inf), axis=-1)


def label_mapped_report(truth: np.ndarray, logits: np.ndarray, class_names: Sequence[str],
                        allowed: np.ndarray, policy: str = "restrict") -> dict:
    """classification_report of the predictions under `policy` (module docstring), plus
    "absent_classes" (the policy), "other_policy" {absent_classes, accuracy, macro_f1} and
    "predicted_outside_target" (plain argmax predictions of classes the test set lacks).

    Args:
      truth: int (N,) labels in the model's label space; logits: (N, K); allowed: bool (K,).
    """
    if policy not in ABSENT_CLASS_POLICIES:
        raise ValueError(f"absent-class policy {policy!r}; expected one of "
                         f"{ABSENT_CLASS_POLICIES}")
    plain = np.argmax(logits, axis=-1)
    predictions = {"restrict": restricted_argmax(logits, allowed), "wrong": plain}
    other = "wrong" if policy == "restrict" else "restrict"
    report = metrics.classification_report(truth, predictions[policy], class_names)
    other_report = metrics.classification_report(truth, predictions[other], class_names)
    report["absent_classes"] = policy
    report["other_policy"] = {"absent_classes": other, "accuracy": other_report["accuracy"],
                              "macro_f1": other_report["macro_f1"]}
    report["predicted_outside_target"] = int(np.sum(~np.asarray(allowed)[plain]))
    return report


def config_for_test_set(train_data_cfg, overrides: Mapping[str, Any]):
    """The run's config.data with `overrides` naming a test set, e.g. {"name": "ckplus",
    "config": "", "eval_split": "test", "manual_dir": ...}: label space, channels and crop are
    the run's; the run's validation data (model selection) is not carried over."""
    test_cfg = train_data_cfg.copy_and_resolve_references()
    with test_cfg.unlocked():
        test_cfg.validation_split, test_cfg.validation_fraction = "", 0.0
        test_cfg.update(dict(overrides))
    return test_cfg


def table_markdown(rows: Mapping[str, Mapping[str, float]], columns: Sequence[str],
                   title: str = "") -> str:
    """Paper Table 2/3 layout: one row per model, one column per test set, 3 decimals."""
    lines = [title, ""] if title else []
    lines.append("| model | " + " | ".join(columns) + " |")
    lines.append("|---|" + "---|" * len(columns))
    for model, scores in rows.items():
        cells = [f"{scores[c]:.3f}" if c in scores and scores[c] is not None else "—"
                 for c in columns]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
