"""ISED builder over a simple layout of the user's choosing. Layout, label table: layout.py."""

from __future__ import annotations

from ferjax.data.real.builder import RealDatasetBuilder, SimpleLayoutConfig

from . import layout


class Builder(RealDatasetBuilder):
    """ISED (happiness, surprise, sadness, disgust): splits as laid out (default 'train')."""

    HOMEPAGE = "https://sites.google.com/site/iseddatabase/"
    BUILDER_CONFIGS = [SimpleLayoutConfig(name="default", description="centre crop, 128² RGB")]
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    ISED has no public file layout: request it from its authors (see the homepage), extract the
    frames you use (e.g. apex frames) and lay them out in manual_dir in ONE of these forms:
      labels.csv with a header row path,label[,subject][,split] (path relative to manual_dir;
        label happiness|happy, surprise, sadness|sad, disgust; split train|validation|test), or
      <split>/<label>/<image> with split folders train, validation (or val), test, or
      <label>/<image> (all in split train).
    For subject ids from file names, build with a config whose subject_pattern is a regex
    (group 'subject' or group 1), e.g. r'^(P\\d+)_'.
    """
    LABEL_TABLE = layout.LABELS

    def parse(self, manual_dir):
        return layout.parse(manual_dir, self.builder_config.subject_pattern or None)
