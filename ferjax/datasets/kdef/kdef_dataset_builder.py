"""KDEF builder. Layout, label table: layout.py."""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from ferjax.data.real.builder import RealConfig, RealDatasetBuilder

from . import layout


@dataclasses.dataclass
class KdefConfig(RealConfig):
    """angles: views kept (FL HL S HR FR); num_folds: subject-disjoint folds."""
    angles: tuple[str, ...] = layout.ANGLES
    num_folds: int = 10


class Builder(RealDatasetBuilder):
    """KDEF: split 'train'; subject F n -> n, M n -> 1000 + n; 'view' = index in FL HL S HR FR."""

    HOMEPAGE = "https://kdef.se/"
    BUILDER_CONFIGS = [
        KdefConfig(name="front", description="straight view only, 128² RGB", angles=("S",)),
        KdefConfig(name="all", description="all 5 views, 128² RGB"),
    ]
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Request KDEF at https://kdef.se/ and unpack it into manual_dir (any folder depth): per-sitting
    folders of files named like AF01ANS.JPG.
    """
    LABEL_TABLE = layout.LABELS

    def extra_features(self):
        return {"view": tfds.features.Scalar(np.int64)}

    def parse(self, manual_dir):
        c = self.builder_config
        return layout.parse(manual_dir, tuple(c.angles), c.num_folds)
