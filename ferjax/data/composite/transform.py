"""The compositing renderer as a grain random transform over (image, mask) records."""

from __future__ import annotations

from typing import Any, Mapping

import grain
import numpy as np

from ferjax.data.composite.background_sources import as_background_source
from ferjax.data.composite.render import render
from ferjax.data.composite.settings import CompositeSettings


class CompositeTransform(grain.transforms.RandomMap):
    """grain random transform: record with "image" and "mask" → composited record.

    Replaces "image", "mask" and (when present) "landmarks" and "au_regions" by their rendered
    versions and adds "face" (the face-only target, replacing any stored one); "box" (a face
    box in the old frame) is dropped; other keys pass through. Records without a mask are an
    error naming the missing key.
    """

    def __init__(self, settings: CompositeSettings = CompositeSettings(),
                 backgrounds: Any = None):
        self.settings = settings
        self.backgrounds = as_background_source(backgrounds)

    def random_map(self, element: Mapping[str, Any], rng: np.random.Generator):
        for key in ("image", "mask"):
            if key not in element:
                raise KeyError(f"CompositeTransform needs record key {key!r}; the dataset must "
                               f"provide face masks (keys present: {sorted(element)})")
        background = self.backgrounds(rng, self.settings.canvas_size)
        landmarks = element.get("landmarks")
        au_regions = element.get("au_regions")
        rendered = render(element["image"], element["mask"], background, rng, self.settings,
                          landmarks=landmarks, au_regions=au_regions)
        out = {k: v for k, v in element.items() if k != "box"}
        out.update(image=rendered["image"], mask=rendered["mask"], face=rendered["face"])
        for key in ("landmarks", "au_regions"):
            if key in rendered:
                out[key] = rendered[key]
        return out
