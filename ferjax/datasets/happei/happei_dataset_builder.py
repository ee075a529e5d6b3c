"""HAPPEI builder over a simple layout of the user's choosing (ferjax.data.real.simple); labels: layout.py."""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

from ferjax.data.real import simple
from ferjax.data.real.builder import RealDatasetBuilder, SimpleLayoutConfig

from . import layout


class Builder(RealDatasetBuilder):
    """HAPPEI group photos: label happy, 'intensity' 0..5; splits as laid out (default 'train')."""

    HOMEPAGE = "https://sites.google.com/site/emotiwchallenge/"
    BUILDER_CONFIGS = [SimpleLayoutConfig(name="default", description="centre crop, 256² RGB",
                                          image_size=256)]
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    HAPPEI has no public file layout: request it from the EmotiW organisers and lay the images
    out in manual_dir in ONE of these forms:
      labels.csv with a header row path,label[,subject][,split] (label = happiness intensity
        0..5), or
      <split>/<intensity>/<image> with split folders train, validation (or val), test, or
      <intensity>/<image> with folders 0 1 2 3 4 5 (all in split train).
    """

    def extra_features(self):
        return {"intensity": tfds.features.Scalar(np.int64)}

    def parse(self, manual_dir):
        return simple.parse_simple(manual_dir, layout.intensity_label,
                                   self.builder_config.subject_pattern or None)
