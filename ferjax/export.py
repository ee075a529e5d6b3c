"""python -m ferjax.export --workdir=runs/x --out=DIR : a trained run as files that need no
training code, config or checkpoint library to run.

    python -m ferjax.export --workdir=runs/x --out=exports/x
    python -m ferjax.export --workdir=runs/x --out=exports/x --overwrite --checkpoint=last

DIR holds
  model.stablehlo   jax.export serialisation of infer(variables, images) -> outputs (OUTPUTS),
                    images float32 (B, h, w, C) normalised, B symbolic (any batch size), lowered
                    for PLATFORMS;
  variables.npz     the run's selected inference variables (EMA where the run kept one, as
                    ferjax.train.checkpoint.restore_variables chooses), one array per leaf,
                    named by its "/"-joined key path ("params/conv1/kernel");
  preprocess.json   the run's InputSpec (ferjax.predict.spec): photo -> normalised crop;
  model.onnx        (with the ferjax[export] extra, where jax2onnx converts the model) images
                    (B, h, w, C) -> logits, probabilities, with the variables as constants;
  export.json       what was written: format version, shapes, outputs, the ONNX outcome.

Load with ferjax.predict.predictor.Predictor.from_export(DIR), or read_exported() +
read_variables() for the raw function (neither imports orbax, ml_collections or ferjax.train).
The writing functions import the run-restoring code lazily, so reading an export stays light.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import sys
from pathlib import Path
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

FORMAT_VERSION = 1
STABLEHLO = "model.stablehlo"
VARIABLES = "variables.npz"
ONNX = "model.onnx"
MANIFEST = "export.json"
# Outputs of the exported function: the classification and, where the model has one, its
# spatial attention map (what `ferjax.predict --annotate` draws). Other maps of a model's
# output dict (features, embeddings, landmarks, reconstructions) are training or analysis
# outputs, left out so every family exports the same contract.
OUTPUTS = ("logits", "probabilities")
OPTIONAL_OUTPUTS = ("attention",)
# Lowered for CPU and NVIDIA GPUs: one artefact serves a laptop and a GPU server.
PLATFORMS = ("cpu", "cuda")
ONNX_TOLERANCE = 1e-4


# --- the function ------------------------------------------------------------------------------
def inference_fn(apply_fn: Callable) -> Callable:
    """apply_fn(variables, images) -> model output dict  =>  infer(variables, images) ->
    {"logits" (B, K), "probabilities" (B, K) softmax, ["attention" (B, h', w')]}."""
    def infer(variables, images):
        out = apply_fn(variables, images)
        logits = out["logits"].astype(jnp.float32)
        result = {"logits": logits, "probabilities": jax.nn.softmax(logits, axis=-1)}
        result.update({k: out[k].astype(jnp.float32) for k in OPTIONAL_OUTPUTS if k in out})
        return result
    return infer


def image_shape_dtype(crop_hw, channels: int) -> jax.ShapeDtypeStruct:
    """float32 (B, h, w, C) with B a symbolic dimension."""
    (b,) = jax.export.symbolic_shape("B")
    return jax.ShapeDtypeStruct((b, *map(int, crop_hw), int(channels)), jnp.float32)


def export_inference(apply_fn: Callable, variables: Any, crop_hw, channels: int,
                     platforms=PLATFORMS) -> jax.export.Exported:
    """jax.export of inference_fn(apply_fn) at the variables' shapes and a symbolic batch."""
    abstract = jax.tree.map(lambda v: jax.ShapeDtypeStruct(np.shape(v), np.asarray(v).dtype),
                            variables)
    return jax.export.export(jax.jit(inference_fn(apply_fn)), platforms=tuple(platforms))(
        abstract, image_shape_dtype(crop_hw, channels))


# --- variables --------------------------------------------------------------------------------
def _path_name(path) -> str:
    return "/".join(str(getattr(k, "key", getattr(k, "idx", k))) for k in path)


def flat_variables(variables: Any) -> dict[str, np.ndarray]:
    """Nested variables -> {"params/.../kernel": host array} in flattening order."""
    return {_path_name(path): np.asarray(leaf)
            for path, leaf in jax.tree_util.tree_flatten_with_path(variables)[0]}


def write_variables(path: Path, variables: Any) -> None:
    np.savez(path, **flat_variables(variables))


def read_variables(path: str | Path, exported: jax.export.Exported) -> Any:
    """variables.npz back into the pytree the exported function takes (its in_tree: the
    structure, empty collections included, comes from the artefact, the arrays by name)."""
    variables_tree = exported.in_tree.children()[0].children()[0]
    names = list(flat_variables(jax.tree_util.tree_unflatten(
        variables_tree, [np.zeros(())] * variables_tree.num_leaves)))
    with np.load(path) as data:
        missing = sorted(set(names) - set(data.files))
        if missing:
            raise ValueError(f"{path} lacks the exported model's variables {missing[:3]}")
        return jax.tree_util.tree_unflatten(variables_tree, [data[n] for n in names])


def output_names(exported: jax.export.Exported) -> list[str]:
    """The keys of the exported function's output dict."""
    return sorted(jax.tree_util.tree_unflatten(exported.out_tree, exported.out_avals))


def read_exported(directory: str | Path) -> jax.export.Exported:
    return jax.export.deserialize(bytearray((Path(directory) / STABLEHLO).read_bytes()))


# --- ONNX (optional) ----------------------------------------------------------------------------
def onnx_model(apply_fn: Callable, variables: Any, crop_hw, channels: int):
    """jax2onnx ModelProto of images (B, h, w, C) -> (logits, probabilities), the variables
    baked in as constants. ImportError without the ferjax[export] extra; the converter's own
    exception where it cannot convert a model."""
    from jax2onnx import to_onnx

    infer = inference_fn(apply_fn)
    fn = lambda images: tuple(infer(variables, images)[k] for k in OUTPUTS)
    # jax2onnx 0.12 prints its module-patching debug lines to stdout, logs a traceback for each
    # of its plugins that fails to import on this jax, and onnx_ir warns per untyped shape
    # constant: none of it is about the model (a failure of the model raises), so it is kept
    # off the console.
    with _quiet_loggers(("jax2onnx", "onnx_ir")), contextlib.redirect_stdout(io.StringIO()):
        return to_onnx(fn, [("B", *map(int, crop_hw), int(channels))], model_name="ferjax",
                       input_names=["images"], output_names=list(OUTPUTS))


@contextlib.contextmanager
def _quiet_loggers(names):
    """Only errors from the named loggers (and their children) within the block."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def onnx_outputs(model_bytes: bytes, images: np.ndarray) -> dict[str, np.ndarray]:
    """onnxruntime (CPU) outputs of a ModelProto's bytes on float32 (B, h, w, C) images."""
    import onnxruntime

    session = onnxruntime.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    values = session.run(None, {session.get_inputs()[0].name: np.asarray(images, np.float32)})
    return dict(zip([o.name for o in session.get_outputs()], values))


def onnx_max_difference(model_bytes: bytes, exported: jax.export.Exported, variables,
                        images: np.ndarray) -> float:
    """Largest |ONNX - StableHLO| over OUTPUTS on the images."""
    want = exported.call(variables, jnp.asarray(images))
    got = onnx_outputs(model_bytes, images)
    return max(float(np.max(np.abs(got[k] - np.asarray(want[k])))) for k in OUTPUTS)


def try_onnx(apply_fn, variables, exported, crop_hw, channels: int, seed: int = 0):
    """(ModelProto bytes or None, one-line reason when None): converts, then checks on 3 random
    images that onnxruntime matches the StableHLO function within ONNX_TOLERANCE."""
    try:
        model_bytes = onnx_model(apply_fn, variables, crop_hw, channels).SerializeToString()
    except ImportError as err:
        return None, f"ONNX skipped: the ferjax[export] extra is not installed ({err})"
    except Exception as err:  # noqa: BLE001 - any converter failure only skips the ONNX file
        return None, f"ONNX not written: jax2onnx cannot convert this model: {_one_line(err)}"
    images = np.random.default_rng(seed).normal(size=(3, *crop_hw, channels)).astype(np.float32)
    difference = onnx_max_difference(model_bytes, exported, variables, images)
    if not difference <= ONNX_TOLERANCE:
        return None, (f"ONNX not written: onnxruntime differs from the JAX model by {difference:.2e}"
                      f" (> {ONNX_TOLERANCE})")
    return model_bytes, None


def _one_line(err: BaseException) -> str:
    text = f"{type(err).__name__}: {err}".strip().splitlines()
    return text[0][:300] if text else type(err).__name__


# --- the command ----------------------------------------------------------------------------------
def check_out(out: Path, overwrite: bool) -> None:
    """ValueError when `out` exists and is not an empty folder (a file, or a folder with files,
    unless overwrite: then its export files are replaced and other files are left)."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ValueError(f"--out {out} exists and is not empty (pass --overwrite to replace "
                         "its export)")


def export_run(workdir: str | Path, out: str | Path, checkpoint: str = "selected",
               overwrite: bool = False, onnx: bool = True, platforms=PLATFORMS) -> dict:
    """Writes the export of the run in `workdir` into `out` (module docstring) and returns
    its manifest. FileNotFoundError naming a missing workdir, config or checkpoint;
    ValueError for an --out that is not empty."""
    import functools

    from ferjax import evaluate
    from ferjax.predict.spec import input_spec_from_workdir

    workdir, out = Path(workdir), Path(out)
    if not workdir.is_dir():
        raise FileNotFoundError(f"--workdir {workdir} does not exist")
    check_out(out, overwrite)
    spec = input_spec_from_workdir(workdir)
    restored = evaluate.restore_run(workdir, checkpoint)
    apply_fn = functools.partial(restored.model.apply, train=False)
    exported = export_inference(apply_fn, restored.variables, spec.crop_size, spec.channels,
                                platforms)
    out.mkdir(parents=True, exist_ok=True)
    (out / STABLEHLO).write_bytes(exported.serialize())
    write_variables(out / VARIABLES, restored.variables)
    spec.write(out)
    onnx_bytes, onnx_reason = (try_onnx(apply_fn, restored.variables, exported, spec.crop_size,
                                        spec.channels) if onnx else (None, "ONNX not requested"))
    if onnx_bytes is not None:
        (out / ONNX).write_bytes(onnx_bytes)
    elif (out / ONNX).exists():  # an --overwrite must not leave an older model's ONNX
        (out / ONNX).unlink()
    manifest = {"format_version": FORMAT_VERSION, "model": restored.config.model.name,
                "checkpoint": checkpoint, "input": [None, *spec.crop_size, spec.channels],
                "outputs": output_names(exported),
                "platforms": list(exported.platforms), "onnx": onnx_bytes is not None,
                "onnx_reason": onnx_reason}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def define_flags() -> dict:
    from absl import flags
    return {
        "workdir": flags.DEFINE_string("workdir", "", "The trained run's directory."),
        "out": flags.DEFINE_string("out", "", "The export folder (new or empty)."),
        "checkpoint": flags.DEFINE_enum("checkpoint", "selected", ["selected", "best", "last"],
                                        "Which checkpoint of the run."),
        "overwrite": flags.DEFINE_bool("overwrite", False, "Replace the export in a non-empty --out."),
        "onnx": flags.DEFINE_bool("onnx", True, "Also write model.onnx where jax2onnx converts."),
    }


def main(argv, holders: dict) -> None:
    from absl import app
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments {argv[1:]}; see --help")
    f = {name: holder.value for name, holder in holders.items()}
    if not f["workdir"] or not f["out"]:
        raise app.UsageError("--workdir and --out are required")
    try:
        manifest = export_run(f["workdir"], f["out"], f["checkpoint"], f["overwrite"], f["onnx"])
    except (FileNotFoundError, ValueError) as err:
        sys.exit(f"error: {err}")
    if manifest["onnx_reason"]:
        print(manifest["onnx_reason"], file=sys.stderr)
    print(f"exported {manifest['model']} to {f['out']}", file=sys.stderr)


def console_main():
    """The ferjax-export console command."""
    from absl import app
    holders = define_flags()
    app.run(lambda argv: main(argv, holders))


if __name__ == "__main__":
    console_main()
