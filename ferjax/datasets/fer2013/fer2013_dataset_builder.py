"""FER-2013 builder: fer2013.csv Usage splits; FER+ majority and soft labels from
fer2013new.csv. Layout, label table: layout.py."""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from ferjax import labels
from ferjax.data.real.builder import RealConfig, RealDatasetBuilder

from . import layout


@dataclasses.dataclass
class Fer2013Config(RealConfig):
    """ferplus: labels from fer2013new.csv (majority) plus 'soft_label' (8,) probabilities."""
    ferplus: bool = False


class Builder(RealDatasetBuilder):
    """FER-2013: splits 'train' (Training), 'validation' (PublicTest), 'test' (PrivateTest)."""

    HOMEPAGE = "https://www.kaggle.com/c/challenges-in-representation-learning-facial-expression-recognition-challenge"
    BUILDER_CONFIGS = [
        Fer2013Config(name="fer2013", description="original 7-class labels, 48² grey",
                      image_size=48, grey=True),
        Fer2013Config(name="ferplus", description="FER+ majority labels (8 classes) and soft labels, 48² grey",
                      image_size=48, grey=True, ferplus=True),
    ]
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Download fer2013.tar.gz from the Kaggle challenge page and put fer2013.csv in manual_dir.
    For the ferplus config also put fer2013new.csv from https://github.com/microsoft/FERPlus
    in manual_dir.
    """

    @classmethod
    def label_classes(cls, config=None):
        """7 classes from fer2013.csv; FER+ adds contempt."""
        config = cls._base_config(config)
        table = layout.FERPLUS_LABELS if config.ferplus else layout.LABELS
        return tuple(c for c in labels.CLASSES if c in set(table.values()))

    def extra_features(self):
        if not self.builder_config.ferplus:
            return {}
        return {"soft_label": tfds.features.Tensor(shape=(labels.NUM_CLASSES,), dtype=np.float32)}

    def parse(self, manual_dir):
        return layout.parse(manual_dir, ferplus=self.builder_config.ferplus)
