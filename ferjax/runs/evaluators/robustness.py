"""Evaluator "robustness": accuracy under zero-mean Gaussian noise (FERAtt §4.4, Fig. 7–9).

robustness.json {"noise_sigmas", "noise_accuracy"} and figures/noise_robustness.png.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ferjax.evaluation import robustness
from ferjax.files import write_json
from ferjax.runs.evaluators import _forward
from ferjax.viz import feratt_figures


def evaluate(target, out_dir: Path, sigmas=robustness.NOISE_SIGMAS, max_examples: int = 0,
             seed: int = 0) -> dict:
    """Noise of each σ in [0, 1] image units added to the eval images, clipped, renormalised."""
    restored = target.restored
    norm = restored.data.norm
    source = _forward.limited(restored.data.eval, int(max_examples))
    accuracy = []
    for sigma in sigmas:
        rng = np.random.default_rng(int(seed))
        noisy = lambda x, s=float(sigma): norm.apply(  # noqa: E731
            robustness.add_gaussian_noise(norm.invert(x), s, rng))
        out = _forward.outputs(restored, source, ("logits",), perturb=noisy)
        accuracy.append(float(np.mean(np.argmax(out["logits"], -1) == out["label"])))
    result = {"noise_sigmas": [float(s) for s in sigmas], "noise_accuracy": accuracy}
    (Path(out_dir) / "figures").mkdir(parents=True, exist_ok=True)
    feratt_figures.noise_robustness_curves(
        result["noise_sigmas"], {restored.config.model.name: accuracy},
        path=str(Path(out_dir) / "figures" / "noise_robustness.png"))
    write_json(Path(out_dir) / "robustness.json", result)
    return result
