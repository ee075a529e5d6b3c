"""The EmotionalDAN analyses of a trained multi-stage model: landmarks per stage, Grad-CAM vs AUs.

Over (up to max_examples of) the evaluation split: NME (inter-pupil and inter-ocular),
failure rate and AUC@0.08 of every stage's landmarks and their CED plot (landmark_report);
class-specific Grad-CAM of the last stage's conv4a/conv4b, the paper's Table 5 (top-k activated
landmarks vs the EMFACS AU landmark sets, with the paper's Table 4 sets and the authors' code's
sets) over frontal (Eq. 5), correctly classified, non-neutral faces, on FERSynth the fraction of
Grad-CAM mass inside the regions the face's active AUs changed, and figures like the paper's
Fig. 5 and 6 (gradcam_report). The model must return "stage_landmarks" (T, B, 68, 2).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ferjax.data import augment, pipeline
from ferjax.evaluation import landmarks as landmark_metrics
from ferjax.explain import au_landmarks
from ferjax.explain.gradcam import jit_grad_cam
from ferjax.viz import landmark_figures


def _examples(data: pipeline.Data, limit: int):
    """(batch of eval examples as arrays, AU pixel masks (N, H, W) or None), in index order."""
    transform = pipeline.EvalTransform(data.spec, data.norm)
    n = min(len(data.eval), limit)
    examples, masks = [], []
    for i in range(n):
        record = data.eval[i]
        examples.append(transform.map(record))
        if "au_regions" in record and "au" in record:
            h, w = np.asarray(record["image"]).shape[:2]
            full = au_landmarks.au_region_masks(np.asarray(record["au_regions"])[None],
                                                np.asarray(record["au"])[None], (h, w))[0]
            cropped = augment.center_crop({"image": full[..., None]}, *data.spec.crop_size)
            masks.append(cropped["image"][..., 0])
    batch = {k: np.stack([e[k] for e in examples]) for k in examples[0]}
    return batch, (np.stack(masks) if len(masks) == n else None)


def _batched(fn, arrays: tuple, batch_size: int):
    """Applies fn to consecutive slices of `arrays` and concatenates the (tuple) results."""
    parts = [fn(*(a[i:i + batch_size] for a in arrays))
             for i in range(0, len(arrays[0]), batch_size)]
    return jax.tree.map(lambda *xs: np.concatenate([np.asarray(x) for x in xs]), *parts)


def _stage_outputs(model, variables, images: np.ndarray, batch_size: int):
    """(stage landmarks (N, T, 68, 2), logits (N, K)) of the model on normalised images."""
    @jax.jit
    def forward(x):
        out = model.apply(variables, x, train=False)
        return jnp.moveaxis(out["stage_landmarks"], 0, 1), out["logits"]

    return _batched(forward, (images,), batch_size)


def landmark_report(model, variables, data: pipeline.Data, out_dir: str | Path, *,
                    max_examples: int = 512, batch_size: int = 64) -> dict[str, Any]:
    """NME, failure rate and AUC@0.08 per stage and of the mean shape; figures/ced.png.

    Returns {"num_examples", "landmarks": {"mean_shape", "stage_1", ...: summary}}; without
    ground-truth landmarks in the eval records, "landmarks" is absent and nothing is drawn.
    """
    batch, _ = _examples(data, int(max_examples))
    stage_landmarks, _ = _stage_outputs(model, variables, batch["image"], int(batch_size))
    truth = batch.get("landmarks")
    report: dict[str, Any] = {"num_examples": int(len(batch["label"]))}
    if truth is None or not np.all(np.isfinite(truth)):
        return report
    # The initial shape S_0 (the training mean) is the floor any stage must beat.
    mean_shape = np.broadcast_to(np.asarray(data.info["mean_landmarks"]), truth.shape)
    errors = {"mean shape": landmark_metrics.per_image_nme(mean_shape, truth)}
    report["landmarks"] = {"mean_shape": landmark_metrics.landmark_summary(mean_shape, truth)}
    for t in range(stage_landmarks.shape[1]):
        report["landmarks"][f"stage_{t + 1}"] = landmark_metrics.landmark_summary(
            stage_landmarks[:, t], truth)
        errors[f"stage {t + 1}"] = landmark_metrics.per_image_nme(stage_landmarks[:, t], truth)
    landmark_figures.plot_ced(errors, str(Path(out_dir) / "figures" / "ced.png"))
    return report


def gradcam_report(model, variables, data: pipeline.Data, out_dir: str | Path, *,
                   layers=("conv4a", "conv4b"), frontal_epsilon: float = 0.05, window: int = 3,
                   max_examples: int = 512, batch_size: int = 64) -> dict[str, Any]:
    """Grad-CAM of the last stage's `layers` against the AU landmark sets (paper Table 5).

    frontal_epsilon: Eq. 5's tolerance as a fraction of the image width; window: side of the
    square around each landmark whose Grad-CAM is summed. Writes figures/gradcam_*.png; returns
    {"num_examples", "accuracy", "num_frontal_kept", "frontal_epsilon_px", "table5": {layer:
    {"paper_sets", "code_sets"}}, "au_mass": {layer: mean fraction, "uniform_map": ...}}.
    """
    out_dir = Path(out_dir)
    batch, au_masks = _examples(data, int(max_examples))
    images, labels = batch["image"], batch["label"]
    size = int(batch_size)
    stage_landmarks, logits = _stage_outputs(model, variables, images, size)
    num_stages = stage_landmarks.shape[1]
    predictions = logits.argmax(-1)
    truth = batch.get("landmarks")
    has_truth = truth is not None and np.all(np.isfinite(truth))
    # Each image's true landmarks, else its own predicted ones.
    points = truth if has_truth else stage_landmarks[:, -1]
    report: dict[str, Any] = {"num_examples": int(len(labels)),
                              "accuracy": float(np.mean(predictions == labels))}

    class_names = list(data.info["class_names"])
    neutral = class_names.index("neutral") if "neutral" in class_names else -1
    epsilon = float(frontal_epsilon) * images.shape[2]
    keep = au_landmarks.selection_mask(labels, predictions, points, epsilon, neutral)
    correct = (labels == predictions) & (labels != neutral)
    report.update({"num_frontal_kept": int(keep.sum()), "frontal_epsilon_px": epsilon})
    report["table5"], report["au_mass"] = {}, {}
    for layer in layers:
        cam_fn = jit_grad_cam(model, f"stage_{num_stages}/{layer}")
        cams, _ = _batched(lambda x, y: cam_fn(variables, x, y), (images, labels), size)
        activations = au_landmarks.landmark_activations(cams, points, int(window))
        per_class = au_landmarks.mean_per_class(activations, labels, keep, class_names)
        rows = {}
        for source in ("paper", "code"):
            try:
                rows[f"{source}_sets"] = au_landmarks.au_overlap_table(per_class, source)
            except ValueError:
                rows[f"{source}_sets"] = None  # e.g. the 3-class space has no AU sets
        report["table5"][layer] = rows
        mean_cams = au_landmarks.mean_per_class(cams, labels, keep, class_names)
        sets = au_landmarks.au_landmark_sets("paper")
        top = {name: np.argsort(-act)[:len(sets[name])].tolist()
               for name, act in per_class.items() if name in sets}
        if mean_cams:
            landmark_figures.plot_mean_cams(
                mean_cams, data.norm.invert(images[keep]).mean(0)[..., 0],
                np.asarray(data.info["mean_landmarks"]), top,
                str(out_dir / "figures" / f"gradcam_mean_{layer}.png"))
        shown = np.flatnonzero(correct)[:12]
        if shown.size:
            landmark_figures.plot_gradcam_grid(
                data.norm.invert(images[shown]), cams[shown],
                [class_names[i] for i in labels[shown]],
                str(out_dir / "figures" / f"gradcam_{layer}.png"))
        if au_masks is not None:
            has_au = correct & au_masks.any((1, 2))
            if has_au.any():
                mass = au_landmarks.cam_mass_in_regions(cams[has_au], au_masks[has_au])
                report["au_mass"][layer] = float(np.nanmean(mass))
                report["au_mass"]["uniform_map"] = float(au_masks[has_au].mean())
    return report
