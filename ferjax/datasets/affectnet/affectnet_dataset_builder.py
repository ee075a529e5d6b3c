"""AffectNet builder: old CSV release (full images, face boxes) and newer npy release (224²
crops); 7 or 8 classes; landmarks, valence, arousal. Layout, label table: layout.py."""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from ferjax.data.real.builder import RealConfig, RealDatasetBuilder

from . import layout


@dataclasses.dataclass
class AffectNetConfig(RealConfig):
    """release: 'csv' (old) or 'npy' (newer); classes: 8, or 7 (contempt excluded)."""
    release: str = "csv"
    classes: int = 8


class Builder(RealDatasetBuilder):
    """AffectNet: splits 'train' and 'validation' (validation serves as the test set);
    'valence', 'arousal' (NaN when n/a), 'box' (x, y, w, h in output pixels; NaN in npy)."""

    HOMEPAGE = "http://mohammadmahoor.com/affectnet/"
    HAS_BOX = True
    BUILDER_CONFIGS = [
        AffectNetConfig(name="csv8", description="old release, 8 classes, face-box crop",
                        release="csv", classes=8, crop="box"),
        AffectNetConfig(name="csv7", description="old release, 7 classes, face-box crop",
                        release="csv", classes=7, crop="box"),
        AffectNetConfig(name="npy8", description="npy release, 8 classes", release="npy", classes=8),
        AffectNetConfig(name="npy7", description="npy release, 7 classes", release="npy", classes=7),
    ]
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Request AffectNet at http://mohammadmahoor.com/affectnet/. Then, in manual_dir:
    old release (configs csv8, csv7): unpack Manually_Annotated.tar so that it holds
      Manually_Annotated_Images/<dir>/<file>.jpg, and Manually_Annotated_file_lists.zip so that
      it holds Manually_Annotated_file_lists/training.csv and validation.csv;
    newer release (configs npy8, npy7): unpack train_set and val_set so that manual_dir holds
      train_set/images/<id>.jpg, train_set/annotations/<id>_exp.npy (and _val, _aro, _lnd),
      and the same under val_set/.
    """
    LABEL_TABLE = layout.LABELS

    def extra_features(self):
        return {"valence": tfds.features.Scalar(np.float32),
                "arousal": tfds.features.Scalar(np.float32)}

    def parse(self, manual_dir):
        c = self.builder_config
        if c.classes not in (7, 8):
            raise ValueError(f"classes={c.classes}: expected 7 or 8")
        if c.release == "csv":
            return layout.parse_csv_release(manual_dir, c.classes)
        if c.release == "npy":
            return layout.parse_npy_release(manual_dir, c.classes)
        raise ValueError(f"release={c.release!r}: expected 'csv' or 'npy'")
