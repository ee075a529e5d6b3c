"""Evaluator "gradcam": Grad-CAM of a multi-stage model vs the AU landmark sets (EmotionalDAN).

gradcam.json (ferjax.explain.dan_report.gradcam_report: Table 5, AU-region mass) and
figures/gradcam_*.png.
"""

from __future__ import annotations

from pathlib import Path

from ferjax.explain import dan_report
from ferjax.files import write_json


def evaluate(target, out_dir: Path, layers=("conv4a", "conv4b"), frontal_epsilon: float = 0.05,
             window: int = 3, max_examples: int = 512, batch_size: int = 0) -> dict:
    """Options as dan_report.gradcam_report; batch_size 0 = config.eval.batch_size."""
    restored = target.restored
    report = dan_report.gradcam_report(
        restored.model, restored.variables, restored.data, out_dir, layers=tuple(layers),
        frontal_epsilon=float(frontal_epsilon), window=int(window),
        max_examples=int(max_examples),
        batch_size=int(batch_size) or int(restored.config.eval.batch_size))
    write_json(Path(out_dir) / "gradcam.json", report)
    return report
