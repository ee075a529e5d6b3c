"""Converts a torchvision ResNet34 state_dict (.pth) to the .npz that ferjax loads.

    python scripts/convert_resnet34.py resnet34-b627a593.pth resnet34.npz

Run it where PyTorch is installed (ferjax itself does not need PyTorch). The input may also be a
.npz, which is checked and rewritten without fc.* and num_batches_tracked. No weights are
downloaded: the .pth file is the user's own.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Mapping

import numpy as np

_BLOCKS = (3, 4, 6, 3)
_BN = ("weight", "bias", "running_mean", "running_var")


def required_keys(blocks=_BLOCKS) -> list[str]:
    """The torchvision ResNet keys a ResNet encoder with these stage sizes needs."""
    keys = ["conv1.weight"] + [f"bn1.{f}" for f in _BN]
    for stage, count in enumerate(blocks, start=1):
        for i in range(count):
            prefix = f"layer{stage}.{i}"
            keys += [f"{prefix}.conv1.weight", f"{prefix}.conv2.weight"]
            keys += [f"{prefix}.{bn}.{f}" for bn in ("bn1", "bn2") for f in _BN]
            if stage > 1 and i == 0:
                keys.append(f"{prefix}.downsample.0.weight")
                keys += [f"{prefix}.downsample.1.{f}" for f in _BN]
    return keys


def convert(state: Mapping[str, np.ndarray], blocks=_BLOCKS) -> dict[str, np.ndarray]:
    """Keeps the encoder's float32 arrays; raises on missing keys or unexpected layers."""
    kept = {}
    for key, value in state.items():
        if key.startswith("fc.") or key.endswith("num_batches_tracked"):
            continue
        if not re.fullmatch(r"(conv1|bn1|layer[1-4]\.\d+\.\S+)\.\w+", key):
            raise ValueError(f"{key!r} is not a torchvision ResNet key")
        kept[key] = np.asarray(value, np.float32)
    missing = [k for k in required_keys(blocks) if k not in kept]
    if missing:
        raise ValueError(f"state dict lacks {len(missing)} ResNet keys, e.g. {missing[:3]}")
    return kept


def _read(path: str) -> dict[str, np.ndarray]:
    if path.endswith(".npz"):
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    import torch  # noqa: PLC0415 - needed only for .pth input
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = state.get("state_dict", state)
    return {k: v.detach().cpu().numpy() for k, v in state.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="torchvision ResNet34 state_dict (.pth, .pt or .npz)")
    parser.add_argument("target", help="output .npz")
    args = parser.parse_args(argv)
    arrays = convert(_read(args.source))
    np.savez(args.target, **arrays)
    print(f"wrote {len(arrays)} arrays to {args.target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
