"""Loading ImageNet ResNet34 weights into FERAtt's attention encoder from a user-supplied file.

Nothing is downloaded. The file is a torchvision ResNet34 state_dict saved as .npz (written by
scripts/convert_resnet34.py, which reads .pth files where PyTorch is installed) or a .pth file
when PyTorch is importable here. Keys are torchvision's: conv1.weight, bn1.{weight, bias,
running_mean, running_var}, layer{1..4}.{i}.{conv1, bn1, conv2, bn2}.*,
layer{2..4}.0.downsample.{0, 1}.*; fc.* and num_batches_tracked are ignored.

Use after `model.init`: `variables = load_resnet34_encoder(variables, path)`.
"""

from __future__ import annotations

import pathlib
from typing import Any, Mapping

import flax
import numpy as np

ENCODER_PATH = ("g_att", "encoder")
_BN_FIELDS = {"weight": ("params", "scale"), "bias": ("params", "bias"),
              "running_mean": ("batch_stats", "mean"), "running_var": ("batch_stats", "var")}


def read_state_dict(path: str | pathlib.Path) -> dict[str, np.ndarray]:
    """Reads a torchvision state_dict from .npz (or .pth/.pt when PyTorch is installed)."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ResNet34 weights file {path} does not exist")
    if path.suffix == ".npz":
        with np.load(path) as data:
            return {key: np.asarray(data[key]) for key in data.files}
    if path.suffix in (".pth", ".pt"):
        try:
            import torch  # noqa: PLC0415 - optional, only for .pth files
        except ImportError as err:
            raise ImportError(f"{path} is a PyTorch file but PyTorch is not installed; convert "
                              "it to .npz with scripts/convert_resnet34.py where it is") from err
        state = torch.load(path, map_location="cpu", weights_only=True)
        return {key: value.numpy() for key, value in state.items()}
    raise ValueError(f"ResNet34 weights file {path}: expected .npz, .pth or .pt")


def _flax_location(key: str) -> tuple[str, tuple[str, ...], str] | None:
    """torchvision key → (collection, module path, leaf) in ResNetEncoder, None if unused."""
    parts = key.split(".")
    if parts[0] == "fc" or parts[-1] == "num_batches_tracked":
        return None
    if parts[0] == "conv1" and parts[1] == "weight":
        return "params", ("conv1",), "kernel"
    if parts[0] == "bn1":
        collection, leaf = _BN_FIELDS[parts[1]]
        return collection, ("bn1",), leaf
    if parts[0].startswith("layer") and len(parts) >= 4:
        block = f"{parts[0]}_{parts[1]}"
        if parts[2] == "downsample":
            if parts[3] == "0":
                return "params", (block, "downsample_conv"), "kernel"
            collection, leaf = _BN_FIELDS[parts[4]]
            return collection, (block, "downsample_bn"), leaf
        if parts[2].startswith("conv"):
            return "params", (block, parts[2]), "kernel"
        if parts[2].startswith("bn"):
            collection, leaf = _BN_FIELDS[parts[3]]
            return collection, (block, parts[2]), leaf
    raise ValueError(f"unexpected key {key!r} in a ResNet34 state_dict")


def _to_flax(value: np.ndarray, leaf: str, target_shape: tuple[int, ...], key: str) -> np.ndarray:
    if leaf == "kernel":
        value = np.transpose(value, (2, 3, 1, 0))  # (O, I, kh, kw) → (kh, kw, I, O)
        if key == "conv1.weight" and target_shape[2] == 1 and value.shape[2] == 3:
            # A grey-input model gets the sum over RGB: the response to a grey image equals
            # the RGB network's response to that image replicated to three channels.
            value = value.sum(axis=2, keepdims=True)
    if tuple(value.shape) != tuple(target_shape):
        raise ValueError(f"ResNet34 weight {key}: shape {value.shape} (converted) does not fit "
                         f"the encoder's {target_shape}; the encoder must use the default "
                         f"widths (64, 128, 256, 512) and blocks (3, 4, 6, 3)")
    return value.astype(np.float32)


def load_resnet34_encoder(variables: Mapping[str, Any], source,
                          encoder_path: tuple[str, ...] = ENCODER_PATH) -> dict:
    """Returns a copy of `variables` whose encoder params/batch_stats come from `source`.

    Args:
      variables: {"params", "batch_stats"} of an initialised FERAtt (or any module holding a
        ResNetEncoder at `encoder_path`).
      source: a path (see read_state_dict) or an already read {key: array} state dict.
    Every encoder leaf must be filled; missing keys are an error listing them.
    """
    state = read_state_dict(source) if isinstance(source, (str, pathlib.Path)) else dict(source)
    out = dict(variables)
    flat = {c: flax.traverse_util.flatten_dict(out[c]) for c in ("params", "batch_stats")}
    targets = {(c, path) for c, tree in flat.items() for path in tree
               if path[:len(encoder_path)] == encoder_path}
    filled = set()
    for key, value in state.items():
        location = _flax_location(key)
        if location is None:
            continue
        collection, module, leaf = location
        path = encoder_path + module + (leaf,)
        if path not in flat[collection]:
            raise ValueError(f"ResNet34 weight {key} has no place in the encoder ({'/'.join(path)})")
        flat[collection][path] = _to_flax(np.asarray(value), leaf, flat[collection][path].shape, key)
        filled.add((collection, path))
    missing = sorted("/".join(p) for c, p in targets - filled)
    if missing:
        raise ValueError(f"ResNet34 weights lack {len(missing)} encoder entries, e.g. {missing[:3]}")
    for collection in flat:
        out[collection] = flax.traverse_util.unflatten_dict(flat[collection])
    return out


def load_pretrained_from_config(variables: Mapping[str, Any],
                                model_config: Mapping[str, Any]) -> Mapping[str, Any]:
    """The trainer's post-init hook: loads config.model.resnet34_weights when it names a file
    (and the variant has an attention encoder); returns `variables` unchanged otherwise."""
    path = model_config.get("resnet34_weights", "")
    if not path or model_config.get("variant") == "baseline":
        return variables
    return load_resnet34_encoder(variables, path)
