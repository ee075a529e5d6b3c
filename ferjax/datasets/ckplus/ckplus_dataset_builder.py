"""CK+ builder: peak frames of each labelled sequence (+ first frames as neutral), landmarks
and FACS action units where present. Layout, label table: layout.py."""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from ferjax.data.real.builder import RealConfig, RealDatasetBuilder

from . import layout


@dataclasses.dataclass
class CKPlusConfig(RealConfig):
    """peak_frames: last frames of a sequence labelled with its emotion; include_neutral: its
    first frame as neutral; num_folds: subject-disjoint folds stored in `fold`."""
    peak_frames: int = 3
    include_neutral: bool = True
    num_folds: int = 10


class Builder(RealDatasetBuilder):
    """CK+: split 'train' (folds in `fold`), canonical labels incl. contempt, 'au' (100,)."""

    HOMEPAGE = "https://www.jeffcohn.net/Resources/"
    BUILDER_CONFIGS = [
        CKPlusConfig(name="default", description="last 3 frames + first frame as neutral, 128² grey",
                     grey=True),
        CKPlusConfig(name="peak1", description="last frame + first frame as neutral, 128² grey",
                     grey=True, peak_frames=1),
    ]
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Request CK+ at https://www.jeffcohn.net/Resources/ (signed agreement). Unpack into
    manual_dir so that it holds:
      cohn-kanade-images/S005/001/S005_001_00000001.png ...  (or extended-cohn-kanade-images/)
      Emotion/S005/001/S005_001_00000011_emotion.txt ...     (required)
      Landmarks/S005/001/S005_001_00000011_landmarks.txt ... (optional)
      FACS/S005/001/S005_001_00000011_facs.txt ...           (optional)
    """
    LABEL_TABLE = layout.LABELS

    def extra_features(self):
        return {"au": tfds.features.Tensor(shape=(layout.NUM_AUS,), dtype=np.float32)}

    def parse(self, manual_dir):
        c = self.builder_config
        return layout.parse(manual_dir, c.peak_frames, c.include_neutral, c.num_folds)
