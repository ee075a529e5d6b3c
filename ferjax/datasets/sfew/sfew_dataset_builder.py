"""SFEW 2.0 builder. Layout, label table: layout.py."""

from __future__ import annotations

from ferjax.data.real.builder import RealConfig, RealDatasetBuilder

from . import layout


class Builder(RealDatasetBuilder):
    """SFEW 2.0: splits 'train' and 'validation' (papers report Val; test labels withheld)."""

    HOMEPAGE = "https://users.cecs.anu.edu.au/~few_group/AFEW.html"
    BUILDER_CONFIGS = [RealConfig(name="default", description="centre crop, 128² RGB")]
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Request SFEW 2.0 from the EmotiW organisers (see the homepage). Unpack Train.zip and Val.zip
    into manual_dir so that it holds Train/<Class>/<image> and Val/<Class>/<image> with class
    folders Angry, Disgust, Fear, Happy, Neutral, Sad, Surprise.
    """
    LABEL_TABLE = layout.LABELS

    def parse(self, manual_dir):
        return layout.parse(manual_dir)
