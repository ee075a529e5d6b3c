"""BU-3DFE builder (2-D frontal images, expression intensity, subject).
Layout, label table: layout.py."""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from ferjax.data.real.builder import RealConfig, RealDatasetBuilder

from . import layout


@dataclasses.dataclass
class Bu3dfeConfig(RealConfig):
    """min_intensity: lowest expression intensity kept (1..4); num_folds: subject-disjoint folds."""
    min_intensity: int = 1
    num_folds: int = 10


class Builder(RealDatasetBuilder):
    """BU-3DFE: split 'train'; subject F n -> n, M n -> 1000 + n; 'intensity' 0 (neutral)..4."""

    HOMEPAGE = "https://www.cs.binghamton.edu/~lijun/Research/3DFE/3DFE_Analysis.html"
    BUILDER_CONFIGS = [
        Bu3dfeConfig(name="all", description="neutral + all intensities, 128² RGB"),
        Bu3dfeConfig(name="high", description="neutral + intensities 3 and 4, 128² RGB",
                     min_intensity=3),
    ]
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Request BU-3DFE from Binghamton University (see the homepage) and unpack it into
    manual_dir (any folder depth); the builder reads the 2-D frontal images named like
    F0001_AN01WH_F2D.bmp.
    """
    LABEL_TABLE = layout.LABELS

    def extra_features(self):
        return {"intensity": tfds.features.Scalar(np.int64)}

    def parse(self, manual_dir):
        c = self.builder_config
        return layout.parse(manual_dir, c.min_intensity, c.num_folds)
