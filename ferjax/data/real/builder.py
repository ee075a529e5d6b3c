"""Base class of the real-dataset TFDS builders: parse layout -> load -> preprocess -> write.

A dataset builder subclasses `RealDatasetBuilder`, sets its configs and instructions, and
implements `parse(manual_dir) -> ParsedDataset` (plus `extra_features()` when it has more than
the common record keys). Everything else is shared: unreadable images are skipped, counted
and listed; identical images across splits are found by hash; the report lands next to the
prepared data. tfds writes into a temporary folder and renames it only on success, so a crash
mid-generation never leaves a complete-looking dataset (the report is written inside that
temporary folder too).
"""

from __future__ import annotations

import abc
import dataclasses
import re
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import numpy as np
import tensorflow_datasets as tfds

from ferjax import ibug68, labels
from ferjax.data import source_record
from ferjax.data.real.errors import UnreadableImage
from ferjax.data.real.example import ParsedDataset, RawExample
from ferjax.data.real.face import DEFAULT_MARGIN, FaceOptions, FacePreprocessFn, make_face_preprocessor
from ferjax.data.real.report import PrepareReport, log


@dataclasses.dataclass
class RealConfig(tfds.core.BuilderConfig):
    """Preprocessing shared by every real-dataset config (see ferjax.data.real.face).

    image_size: output side (pixels) or (height, width); grey: 1 channel, else 3; crop: 'none' | 'box' |
    'landmarks' | 'detect' | 'tight'; crop_margin: context kept around the face on each side,
    as a fraction of the face square (crops 'box', 'landmarks', 'detect'; see
    ferjax.data.real.face); mask: add a face-mask feature; illumination: 'none' | 'isotropic'
    (mask needs a landmark or detector crop).
    """
    image_size: int | tuple[int, int] = 128
    grey: bool = False
    crop: str = "none"
    crop_margin: float = DEFAULT_MARGIN
    mask: bool = False
    illumination: str = "none"

    def face_options(self) -> FaceOptions:
        return FaceOptions(image_size=self.image_size, grey=self.grey, crop=self.crop,
                           crop_margin=self.crop_margin, mask=self.mask,
                           illumination=self.illumination)


# BuilderConfig's own fields; every other config field can be overridden by a keyword argument.
_TFDS_CONFIG_FIELDS = {f.name for f in dataclasses.fields(tfds.core.BuilderConfig)}


def _slug(value) -> str:
    text = "_".join(map(str, value)) if isinstance(value, (tuple, list)) else str(value)
    return re.sub(r"[^A-Za-z0-9_.]", "_", text)


def _settings(config: tfds.core.BuilderConfig) -> dict:
    """A config's own fields (those a keyword argument can set), without tfds's name etc."""
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)
            if f.name not in _TFDS_CONFIG_FIELDS}


def derived_config(base: tfds.core.BuilderConfig, overrides: dict,
                   built_in: Sequence[tfds.core.BuilderConfig] = ()) -> tfds.core.BuilderConfig:
    """`base` with some fields replaced, named after those that differ from it
    ("front-grey_True-image_size_64") so each variant prepares into its own folder. When the
    result equals one of the `built_in` configs field for field (e.g. CK+'s default config with
    peak_frames=1 is its built-in "peak1"), that config is returned instead, so its prepared data
    is reused rather than prepared again under a new name. Unknown field names are an error
    naming them."""
    allowed = {f.name for f in dataclasses.fields(base)} - _TFDS_CONFIG_FIELDS
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise ValueError(f"unknown config fields {unknown} for config {base.name!r}; "
                         f"overridable: {sorted(allowed)}")
    # Lists (from command-line or JSON configs) become tuples so the config stays hashable.
    overrides = {k: _hashable(v) for k, v in overrides.items()}
    # Only fields that differ from the base name the variant, so spelling out a default (as the
    # configs do for the preprocessing fields, to make them settable) keeps the folder name.
    changed = {k: v for k, v in overrides.items() if getattr(base, k) != v}
    if not changed:
        return base
    wanted = {**_settings(base), **overrides}
    for candidate in built_in:
        if type(candidate) is type(base) and _settings(candidate) == wanted:
            return candidate
    name = base.name + "".join(f"-{k}_{_slug(v)}" for k, v in sorted(changed.items()))
    changes = ", ".join(f"{k}={v!r}" for k, v in sorted(overrides.items()))
    return dataclasses.replace(base, name=name, description=f"{base.name} with {changes}",
                               **overrides)


def _hashable(value):
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(v) for v in value)
    return value


def image_feature(size_hw: tuple[int, int], channels: int) -> tfds.features.Tensor:
    # tfds.features.Image needs TensorFlow to encode; a ZLIB-compressed tensor does not.
    return tfds.features.Tensor(shape=(*size_hw, channels), dtype=np.uint8,
                                encoding=tfds.features.Encoding.ZLIB)


def common_features(options: FaceOptions) -> dict:
    features = {
        "image": image_feature(options.size_hw, options.channels),
        "label": tfds.features.ClassLabel(names=labels.CLASSES),
        "subject_id": tfds.features.Scalar(np.int64),
        "fold": tfds.features.Scalar(np.int64),
        "landmarks": tfds.features.Tensor(shape=(ibug68.NUM_POINTS, 2), dtype=np.float32),
    }
    if options.mask:
        features["mask"] = image_feature(options.size_hw, 1)
    return features


def _nan_landmarks() -> np.ndarray:
    return np.full((ibug68.NUM_POINTS, 2), np.nan, np.float32)


def build_record(raw: RawExample, face, options: FaceOptions, box_feature: bool) -> dict:
    """The stored record of one prepared example (see docs/architecture.md)."""
    record = {
        "image": face.image, "label": raw.label, "subject_id": raw.subject_id, "fold": raw.fold,
        "landmarks": _nan_landmarks() if face.landmarks is None else face.landmarks,
        **raw.extras,
    }
    if options.mask:
        record["mask"] = face.mask
    if box_feature:
        record["box"] = (np.full((4,), np.nan, np.float32) if face.box is None else face.box)
    return record


def prepared_examples(split: str, examples: list[RawExample], face_fn: FacePreprocessFn,
                      options: FaceOptions, report: PrepareReport,
                      box_feature: bool = False) -> Iterator[tuple[str, dict]]:
    """Load, hash, preprocess and yield (key, record); unreadable images go to the report.
    A split whose every image is unreadable is an error (tfds cannot write an empty split)."""
    for raw in examples:
        try:
            image = raw.load()
        except UnreadableImage as err:
            report.add_skipped(split, raw.key, raw.source, str(err))
            continue
        report.add_hash(split, raw.key, image)
        face = face_fn(image, raw.landmarks, raw.box)
        if not face.detected:
            report.add_fallback(split)
        report.add_written(split)
        yield raw.key, build_record(raw, face, options, box_feature)
    if not report.written.get(split):
        first = next((s for s in report.skipped if s["split"] == split), None)
        raise ValueError(f"split {split!r}: none of its {len(examples)} images could be read"
                         + (f"; e.g. {first['reason']}" if first else ""))


class RealDatasetBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Shared generator for the builders in ferjax/datasets/<name>/ (see module docstring)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    HOMEPAGE = ""
    # Builders whose layout has face boxes set this to store a "box" feature (x, y, w, h).
    HAS_BOX = False
    # The layout's code -> canonical class table (layout.LABELS) when it alone decides which
    # classes the records can carry; None: all eight canonical classes.
    LABEL_TABLE: Mapping | None = None

    @classmethod
    def label_classes(cls, config=None) -> tuple[str, ...]:
        """Canonical class names the records of `config` (a name, a BuilderConfig or None for
        the default) can carry, in canonical order. A config field `classes` = 7 or
        `include_contempt` = False removes contempt."""
        config = cls._base_config(config)
        names = set(labels.CLASSES if cls.LABEL_TABLE is None else cls.LABEL_TABLE.values())
        if getattr(config, "classes", 8) == 7 or getattr(config, "include_contempt", True) is False:
            names.discard("contempt")
        return tuple(c for c in labels.CLASSES if c in names)

    def __init__(self, *, config=None, **kwargs):
        """As tfds's builders, plus keyword overrides of any config field (image_size=64,
        grey=True, crop='detect', peak_frames=1, ...), which derive a new named config.
        file_format defaults to array_record: tfds's default (tfrecord) needs TensorFlow."""
        kwargs.setdefault("file_format", "array_record")
        base_fields = {f.name for f in dataclasses.fields(self.BUILDER_CONFIGS[0])}
        overrides = {k: kwargs.pop(k) for k in list(kwargs) if k in base_fields - _TFDS_CONFIG_FIELDS}
        if overrides:
            config = self.resolved_config(config, overrides)
        super().__init__(config=config, **kwargs)

    @classmethod
    def resolved_config(cls, config=None, overrides: Mapping | None = None
                        ) -> tfds.core.BuilderConfig:
        """The BuilderConfig that `cls(config=config, **overrides)` prepares, without building
        anything (a run's preprocessing is read from it: `.face_options()`)."""
        base = cls._base_config(config)
        return derived_config(base, dict(overrides), cls.BUILDER_CONFIGS) if overrides else base

    @classmethod
    def _base_config(cls, config) -> tfds.core.BuilderConfig:
        if isinstance(config, tfds.core.BuilderConfig):
            return config
        name = config or cls.DEFAULT_BUILDER_CONFIG_NAME or cls.BUILDER_CONFIGS[0].name
        for candidate in cls.BUILDER_CONFIGS:
            if candidate.name == name:
                return candidate
        raise ValueError(f"unknown config {name!r}; available: {[c.name for c in cls.BUILDER_CONFIGS]}")

    @abc.abstractmethod
    def parse(self, manual_dir: Path) -> ParsedDataset:
        """The examples found in manual_dir, per split; raises MissingManualFile/LabelCodeError."""

    def extra_features(self) -> dict:
        """Features beyond the common record keys (name -> tfds feature)."""
        return {}

    def _info(self) -> tfds.core.DatasetInfo:
        features = common_features(self.builder_config.face_options())
        if self.HAS_BOX:
            features["box"] = tfds.features.Tensor(shape=(4,), dtype=np.float32)
        features.update(self.extra_features())
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(features), supervised_keys=("image", "label"),
            homepage=self.HOMEPAGE or None)

    def _split_generators(self, dl_manager):
        options = self.builder_config.face_options()
        manual_dir = Path(dl_manager.manual_dir)
        parsed = self.parse(manual_dir)  # before the (possibly slow to build) face preprocessor
        self._report = PrepareReport(dataset=self.name, config=self.builder_config.name,
                                     excluded=dict(parsed.excluded))
        splits = {s: examples for s, examples in parsed.splits.items() if examples}
        if not splits:
            raise ValueError(f"no examples found in {manual_dir} for {self.name}/"
                             f"{self.builder_config.name} (excluded: {parsed.excluded}); see "
                             "the builder's MANUAL_DOWNLOAD_INSTRUCTIONS")
        for split in sorted(set(parsed.splits) - set(splits)):
            log.warning("%s: split %r has no examples in %s and is not written", self.name,
                        split, manual_dir)
        self._report.empty_splits = sorted(set(parsed.splits) - set(splits))
        face_fn = make_face_preprocessor(options)
        return {split: self._generate_examples(split, examples, face_fn, options)
                for split, examples in splits.items()}

    def _generate_examples(self, split, examples, face_fn, options):
        return prepared_examples(split, examples, face_fn, options, self._report, self.HAS_BOX)

    def _download_and_prepare(self, dl_manager, download_config=None):
        result = super()._download_and_prepare(dl_manager, download_config=download_config)
        # self.data_path is still tfds's temporary folder here: the report is renamed with the data.
        path = self._report.write(self.data_path)
        source_record.write(self.data_path, dl_manager.manual_dir)
        log.info("%s (%s next to the prepared data)", self._report.summary(), path.name)
        return result


@dataclasses.dataclass
class SimpleLayoutConfig(RealConfig):
    """For simple user layouts (ferjax.data.real.simple). subject_pattern: regex on file
    names giving the subject (group 'subject' or 1); '' = subjects only from a CSV column."""
    subject_pattern: str = ""
