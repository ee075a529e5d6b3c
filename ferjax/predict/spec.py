"""InputSpec: everything that turns a raw photo into a trained model's input, as plain JSON.

A run's workdir knows its input only implicitly (config.json names a dataset builder whose
config holds the face preprocessing; data_stats.json holds the normalisation and class names).
InputSpec gathers those into one record, written as `preprocess.json`, so a predictor (or an
exported model) needs neither the dataset code's configs nor the training data:

    spec = input_spec_from_workdir("runs/x")
    spec.write("runs/x/preprocess.json");  InputSpec.read("runs/x/preprocess.json") == spec

The photo -> model input path it describes (ferjax.predict.predictor):
  face options  -> ferjax.data.real.face.make_face_preprocessor (the builders' own hook): the
                   stored-image size face.size_hw (H, W), channels, crop, margin, illumination;
  crop_size     -> the centre crop (H, W) the model sees (ferjax.data.pipeline.EvalTransform);
  mean, std     -> ferjax.data.pipeline.Normalisation, [0, 1] units, per channel (C,) or per
                   pixel (H, W, C) nested lists;
  tta           -> ferjax.evaluation.tta mode the run was evaluated with;
  class_names   -> the order of the model's outputs;
  detector      -> MTCNNConfig of the face detector (the builders' defaults).

FERSynth runs have no builder face options (the renderer draws face crops); their spec is crop
"none" at the rendered image size (docs/decisions.md, "Prediction on photos").
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Mapping

from ferjax.data import builders
from ferjax.data.pipeline import ExampleSpec, Normalisation
from ferjax.data.real.face import FaceOptions
from ferjax.evaluation import tta as tta_lib
from ferjax.preprocess.mtcnn import MTCNNConfig

FORMAT_VERSION = 1
FILENAME = "preprocess.json"
# FaceOptions fields a spec records (mask is a training-time feature, never an input).
_FACE_FIELDS = ("image_size", "grey", "crop", "crop_margin", "illumination")


def _nested_tuple(value):
    return tuple(_nested_tuple(v) for v in value) if isinstance(value, (list, tuple)) \
        else float(value)


def _nested_list(value):
    return [_nested_list(v) for v in value] if isinstance(value, (list, tuple)) else value


def _depth(value) -> int:
    return 1 + _depth(value[0]) if isinstance(value, tuple) and value else 0


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """face: the builders' face options (mask False; image_size as (H, W)); crop_size (H, W)
    of the model's input; channels 1 | 3; mean, std: [0, 1] units, (C,) or (H, W, C) nested
    tuples; class_names: the model's output order; tta: ferjax.evaluation.tta mode; detector:
    MTCNN settings; version: FORMAT_VERSION of the JSON."""

    face: FaceOptions
    crop_size: tuple[int, int]
    channels: int
    mean: tuple
    std: tuple
    class_names: tuple[str, ...]
    tta: str = "none"
    detector: MTCNNConfig = MTCNNConfig()
    version: int = FORMAT_VERSION

    def __post_init__(self):
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        set_("face", dataclasses.replace(self.face, image_size=self.face.size_hw, mask=False))
        set_("crop_size", tuple(int(v) for v in self.crop_size))
        set_("mean", _nested_tuple(self.mean))
        set_("std", _nested_tuple(self.std))
        set_("class_names", tuple(str(c) for c in self.class_names))
        if self.version != FORMAT_VERSION:
            raise ValueError(f"InputSpec version {self.version} is not supported (this ferjax "
                             f"reads version {FORMAT_VERSION})")
        if self.channels != self.face.channels:
            raise ValueError(f"InputSpec: channels={self.channels} but face.grey="
                             f"{self.face.grey} gives {self.face.channels}")
        if len(self.crop_size) != 2:
            raise ValueError(f"InputSpec: crop_size={self.crop_size}; expected (H, W)")
        tta_lib.check(self.tta, self.face.size_hw, self.crop_size)
        for name in ("mean", "std"):
            value = getattr(self, name)
            if _depth(value) not in (1, 3):
                raise ValueError(f"InputSpec: {name} must be per channel (C,) or per pixel "
                                 f"(H, W, C)")
        if not self.class_names:
            raise ValueError("InputSpec: class_names is empty")

    @property
    def normalisation(self) -> Normalisation:
        return Normalisation(self.mean, self.std)

    @property
    def example_spec(self) -> ExampleSpec:
        """The evaluation pipeline's spec (identity label table: predictions carry no label)."""
        return ExampleSpec(crop_size=self.crop_size, channels=self.channels,
                           label_table=tuple(range(len(self.class_names))))

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-ready dict (lists, numbers, strings)."""
        return {"format_version": self.version,
                "face": {k: _nested_list(getattr(self.face, k)) for k in _FACE_FIELDS},
                "crop_size": list(self.crop_size), "channels": self.channels,
                "normalisation": {"mean": _nested_list(self.mean),
                                  "std": _nested_list(self.std)},
                "class_names": list(self.class_names), "tta": self.tta,
                "detector": {k: _nested_list(v)
                             for k, v in dataclasses.asdict(self.detector).items()}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "InputSpec":
        """Inverse of to_json; ValueError naming an unsupported format_version."""
        version = int(data.get("format_version", -1))
        if version != FORMAT_VERSION:
            raise ValueError(f"{FILENAME} format_version {version} is not supported (this "
                             f"ferjax reads version {FORMAT_VERSION})")
        face = dict(data["face"])
        face["image_size"] = tuple(int(v) for v in face["image_size"])
        detector = {k: tuple(v) if isinstance(v, list) else v
                    for k, v in data.get("detector", {}).items()}
        return cls(face=FaceOptions(**face), crop_size=tuple(data["crop_size"]),
                   channels=int(data["channels"]), mean=data["normalisation"]["mean"],
                   std=data["normalisation"]["std"], class_names=tuple(data["class_names"]),
                   tta=data.get("tta", "none"), detector=MTCNNConfig(**detector),
                   version=version)

    def write(self, path: str | Path) -> Path:
        """Writes the JSON to `path` (a file, or a folder to hold FILENAME) atomically."""
        path = Path(path)
        if path.is_dir():
            path = path / FILENAME
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1) + "\n")
        tmp.replace(path)
        return path

    @classmethod
    def read(cls, path: str | Path) -> "InputSpec":
        path = Path(path)
        if path.is_dir():
            path = path / FILENAME
        return cls.from_json(json.loads(path.read_text()))


def input_spec_from_workdir(workdir: str | Path) -> InputSpec:
    """The InputSpec of the run in `workdir` (a stage-wise run: its last phase), from its
    config.json and data_stats.json; FileNotFoundError naming the missing file."""
    from ferjax import evaluate
    from ferjax.runs import restore

    workdir = restore.model_dir(workdir)
    config = restore.load_config(workdir)
    data = evaluate.run_data_from_stats(workdir, config)
    if data is None:
        raise FileNotFoundError(f"{Path(workdir) / 'data_stats.json'} is missing: {workdir} "
                                "has no record of its input normalisation")
    return InputSpec(face=builders.face_options(config.data), crop_size=data.spec.crop_size,
                     channels=data.spec.channels, mean=data.norm.mean, std=data.norm.std,
                     class_names=tuple(data.info["class_names"]),
                     tta=config.eval.get("tta", "none"))
