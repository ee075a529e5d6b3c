"""Generic figures: confusion matrix, training curves, per-emotion attention (Sun Fig. 5/6)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ferjax.files import save_figure  # noqa: E402


def _save(fig, path: str | Path) -> Path:
    try:
        return save_figure(fig, path, dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)


def confusion_matrix_figure(confusion: np.ndarray, class_names: Sequence[str],
                            path: str | Path, title: str = "") -> Path:
    """Row-normalised confusion matrix (%), true class on rows, with the counts' percentages."""
    confusion = np.asarray(confusion, np.float64)
    rows = confusion.sum(axis=1, keepdims=True)
    pct = 100.0 * np.divide(confusion, rows, out=np.zeros_like(confusion), where=rows > 0)
    k = len(class_names)
    fig, ax = plt.subplots(figsize=(1.0 + 0.7 * k, 0.8 + 0.6 * k))
    ax.imshow(pct, cmap="Blues", vmin=0, vmax=100)
    for i in range(k):
        for j in range(k):
            ax.text(j, i, f"{pct[i, j]:.1f}", ha="center", va="center", fontsize=8,
                    color="white" if pct[i, j] > 60 else "black")
    ax.set_xticks(range(k), class_names, rotation=45, ha="right")
    ax.set_yticks(range(k), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or "confusion matrix (% of true class)")
    return _save(fig, path)


def training_curves_figure(lines: Sequence[dict], path: str | Path) -> Path:
    """Loss and accuracy against step from metrics.jsonl lines."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.5))
    for split, style in (("train", "-"), ("validation", "s-"), ("eval", "o-")):
        rows = [r for r in lines if r["split"] == split]
        if not rows:
            continue
        steps = [r["step"] for r in rows]
        if all("loss" in r for r in rows):
            ax_loss.plot(steps, [r["loss"] for r in rows], style, label=split)
        if all("accuracy" in r for r in rows):
            ax_acc.plot(steps, [r["accuracy"] for r in rows], style, label=split)
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("loss")
    ax_acc.set_xlabel("step")
    ax_acc.set_ylabel("accuracy")
    ax_acc.set_ylim(0, 1)
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    return _save(fig, path)


BOTTOM_ROWS = {"product": "mean(input × B)", "product_of_means": "mean input × mean B"}


def attention_per_emotion_figure(means: dict, class_names: Sequence[str],
                                 path: str | Path, bottom: str = "product") -> Path:
    """Per emotion: mean input, mean weight map B in input space, and their product.

    bottom: "product" (mean of the per-image products) or "product_of_means" (the mean input
    times the mean map, as Sun et al.'s Fig. 5 shows); keys of PerClassMeans.means().
    """
    if bottom not in BOTTOM_ROWS:
        raise ValueError(f"attention figure bottom={bottom!r}; expected one of "
                         f"{sorted(BOTTOM_ROWS)}")
    shown = [i for i, n in enumerate(means["count"]) if n > 0]
    fig, axes = plt.subplots(3, len(shown), figsize=(1.6 * len(shown), 6), squeeze=False)
    for col, c in enumerate(shown):
        for row, (key, cmap) in enumerate((("image", "gray"), ("attention", "jet"),
                                           (bottom, "gray"))):
            ax = axes[row, col]
            ax.imshow(means[key][c], cmap=cmap)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(f"{class_names[c]}\n(n={int(means['count'][c])})", fontsize=9)
        axes[0, 0].set_ylabel("mean input")
        axes[1, 0].set_ylabel("mean B")
        axes[2, 0].set_ylabel(BOTTOM_ROWS[bottom])
    return _save(fig, path)


def group_attention_figure(panels: Sequence[dict], path: str | Path) -> Path:
    """Sun et al. Fig. 7: one column per group photo; rows image, raw B, suppressed B.

    panels: per photo {"image": uint8 (H, W, 1|3), "raw", "suppressed": (H, W) maps,
    "boxes": (N, 4) x1, y1, x2, y2 pixels, drawn on the image; optional "title"}. Each map is
    scaled to its own maximum: the two rows compare where the mass is, not how much.
    """
    from matplotlib.patches import Rectangle

    n = len(panels)
    h, w = np.asarray(panels[0]["image"]).shape[:2]
    fig, axes = plt.subplots(3, n, figsize=(3.2 * n * w / max(h, w) + 0.6, 3 * 3.2 * h /
                                            max(h, w) + 0.6), squeeze=False)
    for col, panel in enumerate(panels):
        image = np.asarray(panel["image"])
        shown = image[..., 0] if image.shape[-1] == 1 else image
        for row, (content, cmap) in enumerate(((shown, "gray"), (panel["raw"], "jet"),
                                               (panel["suppressed"], "jet"))):
            ax = axes[row, col]
            ax.imshow(content, cmap=cmap, vmin=0, vmax=255 if row == 0 else None)
            ax.set_xticks([])
            ax.set_yticks([])
        for x1, y1, x2, y2 in np.asarray(panel["boxes"]).reshape(-1, 4):
            axes[0, col].add_patch(Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1,
                                             fill=False, edgecolor="lime", linewidth=1))
        if panel.get("title"):
            axes[0, col].set_title(panel["title"], fontsize=8)
    axes[0, 0].set_ylabel("image, face boxes")
    axes[1, 0].set_ylabel("raw B")
    axes[2, 0].set_ylabel("B × soft boxes")
    return _save(fig, path)
