"""FERAtt figures: attention-image grids, noise robustness curves, Barnes-Hut t-SNE of z."""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.manifold import TSNE  # noqa: E402

from ferjax.files import save_figure  # noqa: E402


def _show(ax, image: np.ndarray) -> None:
    image = np.asarray(image, np.float32)
    lo, hi = float(image.min()), float(image.max())
    image = (image - lo) / (hi - lo) if hi > lo else np.zeros_like(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])


def attention_grid(rows: Mapping[str, np.ndarray], titles: Sequence[str] | None = None,
                   path: str | None = None):
    """One row per named image stack (e.g. {"input": I, "I_att": I_att, "target": I⊗mask}),
    each (N, H, W, C); columns are examples, titled by `titles` (e.g. predicted classes).
    Each panel is min-max scaled. Returns the Figure (saved to `path` when given)."""
    stacks = {name: np.asarray(stack) for name, stack in rows.items()}
    n = min(len(s) for s in stacks.values())
    fig, axes = plt.subplots(len(stacks), n, figsize=(1.6 * n, 1.7 * len(stacks)), squeeze=False)
    for r, (name, stack) in enumerate(stacks.items()):
        for c in range(n):
            _show(axes[r, c], stack[c])
            if c == 0:
                axes[r, c].set_ylabel(name)
            if r == 0 and titles is not None:
                axes[r, c].set_title(str(titles[c]), fontsize=8)
    fig.tight_layout()
    if path:
        save_figure(fig, path, dpi=120)
    return fig


def attention_across_noise(attention_images: Sequence[np.ndarray], sigmas: Sequence[float],
                           scores: Sequence[float] | None = None, path: str | None = None):
    """Paper Fig. 7: I_att of one image (each (H, W, C)) at increasing noise σ, titled with σ
    and optionally the score of the true class."""
    if len(attention_images) != len(sigmas):
        raise ValueError(f"{len(attention_images)} images for {len(sigmas)} noise levels")
    titles = [f"σ={s:g}" + (f"\n{scores[i]:.2f}" if scores is not None else "")
              for i, s in enumerate(sigmas)]
    return attention_grid({"I_att": np.stack(attention_images)}, titles, path)


def noise_robustness_curves(sigmas: Sequence[float], accuracy: Mapping[str, Sequence[float]],
                            title: str = "", path: str | None = None):
    """Paper Fig. 8–9: accuracy (fractions or %) against noise σ, one line per method."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for method, values in accuracy.items():
        if len(values) != len(sigmas):
            raise ValueError(f"{method}: {len(values)} accuracies for {len(sigmas)} noise levels")
        ax.plot(sigmas, values, marker="o", label=method)
    ax.set_xlabel("noise σ")
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    if path:
        save_figure(fig, path, dpi=120)
    return fig


def tsne_embedding(embeddings: np.ndarray, labels: np.ndarray,
                   class_names: Sequence[str] | None = None, seed: int = 0,
                   perplexity: float = 30.0, path: str | None = None):
    """Paper Fig. 6: Barnes-Hut t-SNE (scikit-learn) of z (N, D) coloured by class.

    Perplexity must stay below N, so it is capped at (N − 1) / 3 for small sets.
    Returns (Figure, (N, 2) coordinates)."""
    z = np.asarray(embeddings, np.float32)
    labels = np.asarray(labels)
    if z.ndim != 2 or len(z) != len(labels) or len(z) < 4:
        raise ValueError(f"need (N >= 4, D) embeddings with N labels, got {z.shape} and "
                         f"{labels.shape}")
    perplexity = min(perplexity, (len(z) - 1) / 3)
    coords = TSNE(n_components=2, method="barnes_hut", perplexity=perplexity, init="pca",
                  random_state=seed).fit_transform(z)
    fig, ax = plt.subplots(figsize=(5, 5))
    for k in np.unique(labels):
        name = class_names[k] if class_names is not None else str(k)
        ax.scatter(*coords[labels == k].T, s=8, label=name)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=7, markerscale=2)
    fig.tight_layout()
    if path:
        save_figure(fig, path, dpi=120)
    return fig, coords
