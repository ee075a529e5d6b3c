"""RAF-DB (basic) builder. Layout, label table: layout.py."""

from __future__ import annotations

import dataclasses

from ferjax.data.real.builder import RealConfig, RealDatasetBuilder

from . import layout


@dataclasses.dataclass
class RafdbConfig(RealConfig):
    """variant: 'aligned' (100² aligned faces) or 'original' images."""
    variant: str = "aligned"


class Builder(RealDatasetBuilder):
    """RAF-DB basic: splits 'train' and 'test'; no subject ids."""

    HOMEPAGE = "http://www.whdeng.cn/raf/model1.html"
    BUILDER_CONFIGS = [
        RafdbConfig(name="aligned", description="aligned 100² RGB faces", image_size=100),
        RafdbConfig(name="original", description="original images, centre crop, 128² RGB",
                    variant="original"),
    ]
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Request RAF-DB at http://www.whdeng.cn/raf/model1.html and unpack basic.zip into manual_dir
    so that it holds basic/EmoLabel/list_patition_label.txt and basic/Image/aligned/ (and/or
    basic/Image/original/, after unpacking the image archives inside).
    """
    LABEL_TABLE = layout.LABELS

    def parse(self, manual_dir):
        return layout.parse(manual_dir, self.builder_config.variant)
