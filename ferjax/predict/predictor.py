"""Predictor: raw photos -> one expression prediction per detected face.

    predictor = Predictor.from_workdir("runs/x")        # no training data needed
    records = predictor.predict([rgb_uint8_image], sources=["photo.jpg"])

Per image: MTCNN finds every face (ferjax.preprocess.pipeline.FacePreprocessor.detect_faces);
each face goes through the builders' own face preprocessing (make_face_preprocessor of the
run's InputSpec.face, given that detection) and the evaluation transform of the run's TTA
mode (ferjax.evaluation.tta.eval_transform: centre crop + normalisation, plus the views), so a
face sees exactly the input its dataset's test images did. How a detection feeds each crop
mode (docs/decisions.md, "Prediction on photos"):
  "landmarks" | "detect" | "tight"  alignment with the detection's 5 points;
  "box" | "none"                    the "box" window around the detection's box (a "none"
                                    run saw whole face images, which that window reproduces).
detect=False treats every image as a face crop already: crop "none" (centre window, resized).

All faces of a predict() call are classified by ONE jitted function of a fixed batch of
`batch_size` faces (padded, and chunked beyond it), so no image's face count recompiles it.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ferjax.data.real.face import make_face_preprocessor
from ferjax.evaluation import tta as tta_lib
from ferjax.predict.spec import InputSpec, input_spec_from_workdir

DEFAULT_BATCH = 16
NO_FACE = "no face detected"
# Crop modes that align with a detection's 5 points; the others take its box.
_ALIGNED = ("landmarks", "detect", "tight")


def as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """uint8 (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) (alpha dropped) -> (H, W, 1|3)."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {image.dtype}")
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4) or min(image.shape[:2]) < 2:
        raise ValueError(f"expected an (H, W[, 1|3|4]) image, got shape {image.shape}")
    return np.ascontiguousarray(image[..., :3])


def xyxy_to_xywh(box: np.ndarray) -> np.ndarray:
    """(x0, y0, x1, y1) -> (x, y, w, h), float32 (the builders' box convention)."""
    x0, y0, x1, y1 = (float(v) for v in box)
    return np.array([x0, y0, x1 - x0, y1 - y0], np.float32)


def module_paths(params: Any, prefix: str = "") -> list[str]:
    """'a/b' paths of every module holding parameters (the params tree's dict nodes)."""
    found = []
    for key, value in params.items():
        if isinstance(value, dict) or hasattr(value, "items"):
            found.append(prefix + key)
            found += module_paths(value, prefix + key + "/")
    return found


def check_layer(variables: Any, layer: str) -> None:
    """ValueError naming --gradcam_layer and the model's layers when `layer` is not one."""
    paths = module_paths(variables["params"])
    if layer not in paths:
        raise ValueError(f"--gradcam_layer={layer!r} is not a layer of this model; its layers: "
                         f"{', '.join(paths)}")


@dataclasses.dataclass(frozen=True)
class Face:
    """One located face of a source image: box (x0, y0, x1, y1) source pixels; points (5, 2)
    MTCNN-order landmarks or None; score the detector's probability or None (detect=False)."""
    box: np.ndarray
    points: np.ndarray | None = None
    score: float | None = None


def padded_batches(views: np.ndarray, batch_size: int):
    """(N, V, h, w, C) -> iterator of (chunk (batch_size, V, h, w, C) zero-padded, count)."""
    for start in range(0, len(views), batch_size):
        chunk = views[start:start + batch_size]
        pad = np.zeros((batch_size - len(chunk), *chunk.shape[1:]), chunk.dtype)
        yield np.concatenate([chunk, pad]), len(chunk)


class Predictor:
    """Classifies faces of raw images with a trained model.

    spec: the run's InputSpec; apply_fn(variables, images float32 (N, h, w, C) normalised) ->
    dict with "logits" (N, K) (and optionally "attention" (N, h', w')); variables: its
    variables; batch_size: faces per jitted call (the only compiled shape).
    """

    def __init__(self, spec: InputSpec, apply_fn: Callable, variables: Any,
                 batch_size: int = DEFAULT_BATCH, model: Any = None, gradcam_layer: str = ""):
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size}: expected >= 1")
        if gradcam_layer and model is None:
            raise ValueError(f"gradcam_layer={gradcam_layer!r} needs the Linen model (a run's "
                             "workdir, not an exported function)")
        self.spec, self.variables, self.batch_size = spec, variables, int(batch_size)
        self._apply_fn = apply_fn
        self._model, self.gradcam_layer = model, gradcam_layer
        if gradcam_layer:
            check_layer(variables, gradcam_layer)
        self._transform = tta_lib.eval_transform(spec.example_spec, spec.normalisation, spec.tta)

    @classmethod
    def from_workdir(cls, workdir: str | Path, checkpoint: str = "selected",
                     batch_size: int = DEFAULT_BATCH, gradcam_layer: str = "") -> "Predictor":
        """The run in `workdir` (its checkpoint `checkpoint`: "selected" | "best" | "last").
        gradcam_layer: a module path of the model (e.g. "stage_2/conv4b"): explanations are
        that layer's Grad-CAM of the predicted class instead of the model's own attention."""
        from ferjax import evaluate

        spec = input_spec_from_workdir(workdir)
        restored = evaluate.restore_run(Path(workdir), checkpoint)
        return cls(spec, functools.partial(restored.model.apply, train=False),
                   restored.variables, batch_size, model=restored.model,
                   gradcam_layer=gradcam_layer)

    @classmethod
    def from_export(cls, directory: str | Path, batch_size: int = DEFAULT_BATCH) -> "Predictor":
        """An export folder of ferjax.export (model.stablehlo, variables.npz, preprocess.json):
        no config, checkpoint library or training code is read."""
        from ferjax import export

        exported = export.read_exported(directory)
        variables = export.read_variables(Path(directory) / export.VARIABLES, exported)
        return cls(InputSpec.read(directory), exported.call, variables, batch_size)

    # --- faces -------------------------------------------------------------------------------
    @functools.cached_property
    def _detector(self):
        """FacePreprocessor in mode "detect" holding the MTCNN (built on first detection)."""
        from ferjax.preprocess import pipeline
        return pipeline.FacePreprocessor(pipeline.PreprocessConfig(
            mode="detect", detector=self.spec.detector))

    @functools.cached_property
    def _face_fn(self):
        face = self.spec.face
        if face.crop in _ALIGNED:
            return make_face_preprocessor(face, detector=self._detector.detector,
                                          detector_config=self.spec.detector)
        return make_face_preprocessor(dataclasses.replace(face, crop="box"))

    @functools.cached_property
    def _whole_fn(self):
        return make_face_preprocessor(dataclasses.replace(self.spec.face, crop="none"))

    def detect(self, image: np.ndarray) -> list[Face]:
        """Every face MTCNN finds in a uint8 (H, W, C) image, best score first."""
        found = self._detector.detect_faces(as_rgb_uint8(image))
        return [Face(box=found.boxes[i], points=found.points[i], score=float(found.scores[i]))
                for i in range(len(found))]

    def prepare(self, image: np.ndarray, face: Face | None) -> np.ndarray:
        """The stored-image equivalent of one face: uint8 (H, W, C) of spec.face.size_hw, as
        the run's dataset builder would have written it (face None: the whole image)."""
        image = as_rgb_uint8(image)
        if face is None:
            return self._whole_fn(image, None, None).image
        if self.spec.face.crop in _ALIGNED:
            return self._face_fn(image, None, None, points=face.points).image
        return self._face_fn(image, None, xyxy_to_xywh(face.box)).image

    def model_views(self, prepared: np.ndarray) -> np.ndarray:
        """A prepared face -> float32 (V, h, w, C) normalised views, exactly the evaluation
        transform's (V = 1 without TTA)."""
        example = self._transform.map({"image": prepared, "label": 0})
        return example["views"] if "views" in example else example["image"][None]

    # --- model -------------------------------------------------------------------------------
    @functools.cached_property
    def classify_fn(self):
        """jitted (variables, views (B, V, h, w, C)) -> {"probabilities" (B, K),
        "attention" (B, h', w') of the first view, when the model has one}."""
        def classify(variables, views):
            outputs = {}

            def apply(images):
                out = self._apply_fn(variables, images)
                if "attention" in out:
                    b, v = views.shape[:2]
                    att = out["attention"]
                    outputs["attention"] = att.reshape((b, v, *att.shape[1:]))[:, 0]
                return out

            outputs["probabilities"] = tta_lib.view_probabilities(apply, views)
            return outputs
        return jax.jit(classify)

    def classify(self, views: np.ndarray) -> dict[str, np.ndarray]:
        """(N, V, h, w, C) -> {"probabilities" (N, K)[, "attention" (N, h', w')]} in chunks of
        batch_size, each padded to it (one compiled shape)."""
        parts = []
        for chunk, count in padded_batches(views, self.batch_size):
            out = self.classify_fn(self.variables, jnp.asarray(chunk))
            parts.append({k: np.asarray(v)[:count] for k, v in out.items()})
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if parts else {}

    @functools.cached_property
    def _cam_fn(self):
        from ferjax.explain.gradcam import jit_grad_cam
        return jit_grad_cam(self._model, self.gradcam_layer, resize=False)

    def grad_cams(self, views: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Grad-CAM of gradcam_layer for class `targets` (N,) on the centre view of each face
        ((N, V, h, w, C) views) -> (N, h', w') in [0, 1], at the layer's resolution; padded
        to batch_size like classify, so it compiles once."""
        parts = []
        for start in range(0, len(views), self.batch_size):
            chunk, count = next(padded_batches(views[start:start + self.batch_size, 0],
                                               self.batch_size))
            want = np.zeros(self.batch_size, np.int32)
            want[:count] = targets[start:start + count]
            cams, _ = self._cam_fn(self.variables, jnp.asarray(chunk), jnp.asarray(want))
            parts.append(np.asarray(cams)[:count])
        return np.concatenate(parts) if parts else np.zeros((0, 1, 1), np.float32)

    # --- records -----------------------------------------------------------------------------
    def predict(self, images: Sequence[np.ndarray], sources: Sequence[str] | None = None,
                detect: bool = True, explain: bool = False) -> list[dict]:
        """One record per face of each image (in image order, then best detection first):
        source, face (index), box [x0, y0, x1, y1] source pixels, landmarks [[x, y]] × 5 (None
        without detection), score, probabilities {class name: p}, label. An image without a
        face gives one record with face None and a reason. explain adds "input" (the model's
        centre-crop view, uint8 (h, w, C)) and "attention" (h', w') where the model has one,
        as arrays (not JSON)."""
        sources = [str(i) for i in range(len(images))] if sources is None else list(sources)
        if len(sources) != len(images):
            raise ValueError(f"{len(images)} images but {len(sources)} sources")
        pending, views, inputs = [], [], []
        for image, source in zip(images, sources):
            image = as_rgb_uint8(image)
            h, w = image.shape[:2]
            faces = self.detect(image) if detect else [Face(np.array([0, 0, w, h], np.float32))]
            if not faces:
                pending.append({"source": source, "face": None, "reason": NO_FACE})
            for index, face in enumerate(faces):
                prepared = self.prepare(image, face if detect else None)
                views.append(self.model_views(prepared))
                inputs.append(prepared)
                pending.append({"source": source, "face": index,
                                "box": [round(float(v), 2) for v in face.box],
                                "landmarks": None if face.points is None else
                                np.round(face.points, 2).tolist(),
                                "score": face.score})
        outputs = self.classify(np.stack(views)) if views else {}
        if explain and self.gradcam_layer and views:  # the asked layer's map, not attention
            outputs["attention"] = self.grad_cams(
                np.stack(views), np.argmax(outputs["probabilities"], axis=-1))
        names, k = self.spec.class_names, 0
        for record in pending:
            if record["face"] is None:
                continue
            probs = outputs["probabilities"][k]
            record["probabilities"] = {n: float(p) for n, p in zip(names, probs)}
            record["label"] = names[int(np.argmax(probs))]
            if explain:
                record["input"] = self.centre_crop(inputs[k])
                if "attention" in outputs:
                    record["attention"] = outputs["attention"][k]
            k += 1
        return pending

    def centre_crop(self, prepared: np.ndarray) -> np.ndarray:
        """The part of a prepared face the model's centre view sees, uint8 (h, w, C)."""
        (top, left), = tta_lib.crop_offsets("none", prepared.shape[:2], self.spec.crop_size)
        ch, cw = self.spec.crop_size
        return prepared[top:top + ch, left:left + cw]
