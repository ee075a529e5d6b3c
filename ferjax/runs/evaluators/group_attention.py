"""Evaluator "group_attention": the weight map of whole group photos (Sun et al. §4.6, Fig. 7).

Runs the attention network fully convolutionally over each group photo, then suppresses the
background with soft face boxes (ferjax.explain.group_attention). Photos come from `images_dir`
(*.png, *.jpg, *.jpeg, sorted by name; faces found by MTCNN) or, when it is empty, one
synthetic group of FERSynth faces on a cluttered background (ferjax.synth.group), whose face
boxes are known from the composition: MTCNN finds only some FERSynth faces once they are
pasted on clutter (1 to 4 of 4 on seeds 0-3), so by default it is not asked there
(`detect_synthetic=True` asks it anyway).

Writes figures/group_attention.png (rows: image with boxes, raw map, suppressed map) and
group_attention.json: per photo the share of attention mass inside the face boxes before and
after suppression and the share of the image the boxes cover (a uniform map's score).
Host-local: no collective (a single-process restore, local jitted forwards).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ferjax import synth
from ferjax.explain import group_attention as ga
from ferjax.files import write_json
from ferjax.synth.group import compose_group
from ferjax.viz import figures

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def load_photos(images_dir: str | Path, max_images: int, max_side: int) -> list[tuple[str, np.ndarray]]:
    """(file name, uint8 RGB (H, W, 3)) of up to max_images photos, the longer side at most
    max_side pixels (area-downscaled: a CPU forward over a 4000-pixel photo takes minutes)."""
    from PIL import Image

    folder = Path(images_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"config.evals.<group_attention>.images_dir={str(images_dir)!r} "
                                "is not a folder")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise FileNotFoundError(f"no {'/'.join(IMAGE_SUFFIXES)} image in {folder}")
    photos = []
    for path in paths[:max_images]:
        with Image.open(path) as img:
            img = img.convert("RGB")
            scale = max_side / max(img.size)
            if scale < 1:
                img = img.resize((round(img.width * scale), round(img.height * scale)),
                                 Image.Resampling.BOX)
            photos.append((path.name, np.asarray(img, np.uint8)))
    return photos


def _synth_config(data_config, preset: str) -> synth.SynthConfig:
    """The named FERSynth preset, else the run's own when it trains on FERSynth, else front."""
    if not preset:
        own = data_config.get("config", "") if data_config.get("name") == "fersynth" else ""
        preset = own if own in synth.PRESET_NAMES else "front"
    return synth.preset(preset)


def evaluate(target, out_dir: Path, images_dir: str = "", max_images: int = 4,
             max_side: int = 640, num_faces: int = 4, size: Sequence[int] = (224, 512),
             seed: int = 0, synth_preset: str = "", detect_synthetic: bool = False,
             form: str = "feathered", feather: float = 0.1,
             min_face_size: float = 20.0) -> dict:
    """Fig. 7 for the photos in images_dir, or for one synthetic group; writes figure + JSON.

    size: (H, W) of the synthetic group; form, feather: the soft box
    (ga.soft_box_weights); min_face_size: MTCNN's smallest face (pixels).
    """
    restored = target.restored
    data = restored.data
    ga.soft_box_weights(np.zeros((0, 4)), (1, 1), form, feather)  # bad options fail first
    if images_dir:
        photos = [(name, image, None) for name, image in
                  load_photos(images_dir, int(max_images), int(max_side))]
    else:
        image, boxes = compose_group(_synth_config(restored.config.data, synth_preset), int(seed),
                                     int(num_faces), tuple(int(s) for s in size))
        photos = [(f"synthetic group (seed {int(seed)})", image, boxes)]
    detector = None
    apply = ga.jitted_apply(restored.model.apply)
    panels, per_photo = [], []
    for name, image, known in photos:
        source = "composition"
        if known is None or detect_synthetic:
            if detector is None:
                from ferjax.preprocess.mtcnn import MTCNN, MTCNNConfig
                detector = MTCNN(config=MTCNNConfig(min_face_size=float(min_face_size)))
            boxes, source = detector.detect(image).boxes, "mtcnn"
        else:
            boxes = known
        out = ga.group_attention(apply, restored.variables, image, boxes, data.spec.channels,
                                 data.norm, form, float(feather))
        panels.append({"image": image, "raw": out["raw"], "suppressed": out["suppressed"],
                       "boxes": boxes, "title": f"{name}: {len(boxes)} faces ({source})"})
        per_photo.append({"image": name, "size": list(image.shape[:2]), "boxes": source,
                          "num_faces": int(len(boxes)),
                          "known_faces": None if known is None else int(len(known)),
                          "mass_raw": out["mass_raw"], "mass_suppressed": out["mass_suppressed"],
                          "box_area": out["box_area"]})
    figures.group_attention_figure(panels, Path(out_dir) / "figures" / "group_attention.png")
    summary = {"form": form, "feather": float(feather), "images": per_photo,
               "mean_mass_raw": float(np.mean([p["mass_raw"] for p in per_photo])),
               "mean_mass_suppressed": float(np.mean([p["mass_suppressed"] for p in per_photo]))}
    print(f"group attention mass inside the face boxes: {summary['mean_mass_raw']:.3f} raw, "
          f"{summary['mean_mass_suppressed']:.3f} suppressed", flush=True)
    write_json(Path(out_dir) / "group_attention.json", summary)
    return summary
