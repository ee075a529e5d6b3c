"""JAFFE builder: 213 grey images, 10 subjects, leave-one-subject-out folds.
Layout, label table: layout.py."""

from __future__ import annotations

from ferjax.data.real.builder import RealConfig, RealDatasetBuilder

from . import layout


class Builder(RealDatasetBuilder):
    """JAFFE: split 'train'; subject_id 0..9 (KA..YM); fold = subject (LOSO)."""

    HOMEPAGE = "https://zenodo.org/record/3451524"
    BUILDER_CONFIGS = [RealConfig(name="default", description="128² grey", grey=True)]
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Request JAFFE at https://zenodo.org/record/3451524 and unpack it into manual_dir (any
    folder depth): files named like KA.AN1.39.tiff.
    """
    LABEL_TABLE = layout.LABELS

    def parse(self, manual_dir):
        return layout.parse(manual_dir)
