"""RaFD builder: Sun et al.'s RaFD-FRONT (camera 090) and RaFD-POSE (all 5 cameras), subject
folds by model-id range, contempt optional. Layout, label table: layout.py."""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from ferjax.data.real.builder import RealConfig, RealDatasetBuilder

from . import layout


@dataclasses.dataclass
class RafdConfig(RealConfig):
    """cameras: camera angles kept (degrees); include_contempt: keep 'contemptuous' images."""
    cameras: tuple[int, ...] = layout.CAMERAS
    include_contempt: bool = False


class Builder(RealDatasetBuilder):
    """RaFD: split 'train'; subject_id = model id; fold 0..4 (Sun's ranges); 'view' = camera."""

    HOMEPAGE = "https://rafd.socsci.ru.nl/"
    BUILDER_CONFIGS = [
        RafdConfig(name="front", description="camera 090, 7 classes (Sun et al.'s RaFD-FRONT)",
                   cameras=(layout.FRONT_CAMERA,)),
        RafdConfig(name="pose", description="all 5 cameras, 7 classes (Sun et al.'s RaFD-POSE)"),
        RafdConfig(name="front_contempt", description="camera 090, 8 classes",
                   cameras=(layout.FRONT_CAMERA,), include_contempt=True),
        RafdConfig(name="pose_contempt", description="all 5 cameras, 8 classes",
                   include_contempt=True),
    ]
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Request RaFD at https://rafd.socsci.ru.nl/ and unpack its images into manual_dir (any
    folder depth): files named like Rafd090_28_Caucasian_male_angry_frontal.jpg.
    """
    LABEL_TABLE = layout.LABELS

    def extra_features(self):
        return {"view": tfds.features.Scalar(np.int64)}

    def parse(self, manual_dir):
        c = self.builder_config
        return layout.parse(manual_dir, tuple(c.cameras), c.include_contempt)
