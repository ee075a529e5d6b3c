"""Shared inputs of the prediction tests: a tiny trained FERSynth run and pasted faces."""

import numpy as np

from ferjax import synth
from ferjax.configs import pieces
from ferjax.train import loop
from tests import toy

SYNTH = {"image_size": (40, 32), "num_subjects": 10, "variants_per_class": 1}


def tiny_run(workdir, tta="flip"):
    """A sun_attention model trained 2 steps on 40×32 FERSynth faces (32×32 crops)."""
    c = toy.toy_config(steps=2)
    c.data = pieces.fersynth_data("front", **SYNTH)
    c.data.source = "fersynth_live"
    c.data.crop_size = (32, 32)
    c.data.stats_examples = 16
    c.eval.tta = tta
    loop.train(c, workdir)
    return workdir


def faces(n, size=(160, 128), split="test"):
    """n FERSynth face images rendered at `size` (uint8 (H, W, 1)), large enough for MTCNN."""
    source = synth.FERSynthSource(synth.preset("front", image_size=size), seed=0,
                                  num_examples=None, split=split)
    return [np.asarray(source[i]["image"]) for i in range(n)]


def pasted(face_images, gap=40, grey=90):
    """The faces side by side on a uniform background, `gap` pixels apart and around."""
    h, w = face_images[0].shape[:2]
    canvas = np.full((h + 2 * gap, gap + len(face_images) * (w + gap), 1), grey, np.uint8)
    for i, face in enumerate(face_images):
        x = gap + i * (w + gap)
        canvas[gap:gap + h, x:x + w] = face
    return canvas
