"""Generic class-folder builder: root/<class>/<image> (or root/<split>/<class>/<image>, or a
labels.csv), with a folder-name -> class map and optional subject ids from file names.
Layout, label tables: layout.py."""

from __future__ import annotations

import dataclasses

from ferjax import labels
from ferjax.data.real.builder import RealDatasetBuilder, SimpleLayoutConfig

from . import layout


@dataclasses.dataclass
class ClassFolderConfig(SimpleLayoutConfig):
    """class_map: (folder name, canonical class name) pairs, matched case-insensitively; empty =
    every common spelling of the 8 classes (layout.CLASS_NAME_SYNONYMS). num_folds > 0: that
    many subject-disjoint folds in `fold` (contiguous blocks of sorted subject ids; needs a
    subject for every image)."""
    class_map: tuple[tuple[str, str], ...] = ()
    num_folds: int = 0


class Builder(RealDatasetBuilder):
    """Any class-folder tree. Build a custom layout with
    Builder(config=ClassFolderConfig(name='mine', class_map=(('joy', 'happy'), ...),
    subject_pattern=r'^(\\w+?)_'), data_dir=...)."""

    BUILDER_CONFIGS = [
        ClassFolderConfig(name="default", description="common class names, centre crop, 128² RGB"),
        ClassFolderConfig(name="ck48", description="CK+48 copy: 48² grey, subject from "
                          "S010_006_*.png, 10 subject folds", image_size=48, grey=True,
                          subject_pattern=r"^S(\d{3})_", num_folds=10,
                          class_map=tuple(layout.CK48_FOLDERS.items())),
        ClassFolderConfig(name="fer2013_folders",
                          description="FER-2013 image folders train/ and test/: 48² grey",
                          image_size=48, grey=True,
                          class_map=tuple(layout.FER2013_FOLDERS.items())),
    ]
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Put the class-folder copy in manual_dir as <class>/<image> (e.g. CK+48: anger/ contempt/
    disgust/ fear/ happy/ sadness/ surprise/), or as <split>/<class>/<image> with split folders
    train, validation (or val), test (e.g. FER-2013 image folders: train/ and test/), or as
    labels.csv with a header row path,label[,subject][,split].
    """

    @classmethod
    def label_classes(cls, config=None):
        """The classes of the config's class_map (all eight for the default synonyms)."""
        config = cls._base_config(config)
        table = dict(config.class_map) or layout.CLASS_NAME_SYNONYMS
        return tuple(c for c in labels.CLASSES if c in set(table.values()))

    def parse(self, manual_dir):
        c = self.builder_config
        return layout.parse(manual_dir, dict(c.class_map), c.subject_pattern or None,
                            c.num_folds)
