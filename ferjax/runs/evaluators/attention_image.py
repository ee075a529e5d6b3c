"""Evaluator "attention_image": FERAtt's attention image I_att against the face.

attention_image.json: iatt_mask_iou (IoU of I_att's support with the true face mask) and, on
FERSynth, attention_share / uniform_share (I_att mass inside the AU regions of each face's class
vs a uniform map's); figures/iatt.png: I_att next to the masks of the first eight faces.
"""

from __future__ import annotations

from pathlib import Path

from ferjax.evaluation import robustness
from ferjax.files import write_json
from ferjax.runs.evaluators import _forward
from ferjax.viz import feratt_figures


def evaluate(target, out_dir: Path, max_examples: int = 0) -> dict:
    """Needs the "attention_image" output and eval records with a mask."""
    restored = target.restored
    source = _forward.limited(restored.data.eval, int(max_examples))
    ev = _forward.outputs(restored, source, ("attention_image",))
    if "attention_image" not in ev or "mask" not in ev:
        raise ValueError("config.evals attention_image: needs the model's 'attention_image' "
                         "output and 'mask' in config.data.extra_keys")
    result = {"iatt_mask_iou": float(robustness.attention_mask_iou(
        ev["attention_image"], ev["mask"]).mean())}
    records = [source[i] for i in range(len(ev["label"]))]
    if "au_regions" in records[0]:
        au = robustness.class_au_share(ev["attention_image"],
                                       [r["au_regions"] for r in records], ev["label"],
                                       restored.data.info["class_names"])
        result.update(au or {})
    (Path(out_dir) / "figures").mkdir(parents=True, exist_ok=True)
    feratt_figures.attention_grid(
        {"I_att": ev["attention_image"][:8], "mask": ev["mask"][:8]},
        titles=[str(int(x)) for x in ev["label"][:8]],
        path=str(Path(out_dir) / "figures" / "iatt.png"))
    write_json(Path(out_dir) / "attention_image.json", result)
    return result
