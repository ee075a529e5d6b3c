"""PyTorch copies of ferjax networks, for speed comparisons only (benchmarks/cpu_efficiency.py).

Each copy has the layers, widths, biases and parameter count of its Flax original
(ferjax/models/vgg.py, ferjax/models/sun.py); `build` checks the count against the Flax
model's so that a drifting copy fails loudly instead of timing another network. PyTorch is
not a dependency of ferjax: this module is imported only when it is installed.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn


def _conv_bn_relu(cin: int, cout: int, batch_norm: bool) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, padding=1, bias=False)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1))  # flax momentum 0.9
    return layers + [nn.ReLU(inplace=True)]


def conv_trunk(plan, channels: int, batch_norm: bool) -> nn.Sequential:
    """Stages of (features, repeats) 3×3 bias-free convolutions, each stage ending in a 2×2
    max-pool: VGGFER's and SunConvTrunk's shared shape."""
    layers, cin = [], channels
    for features, repeats in plan:
        for _ in range(repeats):
            layers += _conv_bn_relu(cin, features, batch_norm)
            cin = features
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class VGGFER(nn.Module):
    """ferjax.models.vgg.VGGFER: trunk, global average pool, dropout, dense with bias."""

    def __init__(self, channels: int, classes: int, widths, convs_per_stage: int,
                 dropout_rate: float):
        super().__init__()
        self.trunk = conv_trunk([(w, convs_per_stage) for w in widths], channels, True)
        self.dropout = nn.Dropout(dropout_rate)
        self.fc = nn.Linear(widths[-1], classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.trunk(x).mean(dim=(2, 3))))


class SunAttention(nn.Module):
    """ferjax.models.sun.SunAttention (non-symmetric map, Eq. 1-4): trunk, per-position MLP
    C -> hidden -> 1 with tanh, spatial softmax, weighted sum, dropout, bias-free dense."""

    def __init__(self, channels: int, classes: int, plan, batch_norm: bool, hidden: int,
                 beta: float, attention_bias: bool, dropout_rate: float):
        super().__init__()
        self.trunk = conv_trunk(plan, channels, batch_norm)
        features = plan[-1][0]
        self.w1 = nn.Conv2d(features, hidden, 1, bias=attention_bias)  # a Dense per position
        self.w2 = nn.Conv2d(hidden, 1, 1, bias=attention_bias)
        self.beta = beta
        self.dropout = nn.Dropout(dropout_rate)
        self.fc = nn.Linear(features, classes, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.trunk(x)                                   # (B, C, h, w)
        scores = torch.tanh(self.w2(torch.tanh(self.w1(features))))  # (B, 1, h, w)
        weights = torch.softmax(self.beta * scores.flatten(1), dim=1)
        z = torch.einsum("bp,bcp->bc", weights, features.flatten(2))
        return self.fc(self.dropout(z))


def build(model_cfg: Mapping[str, Any], channels: int, classes: int) -> nn.Module:
    """The twin of config.model (names "vgg_fer", "sun_attention"); ValueError for others."""
    from ferjax.models import sun, vgg

    name = model_cfg["name"]
    if name == "vgg_fer":
        widths = vgg.scaled_widths(model_cfg.get("widths", vgg.WIDTHS),
                                   model_cfg.get("width_multiplier", 1.0))
        return VGGFER(channels, classes, widths, model_cfg.get("convs_per_stage", 2),
                      model_cfg.get("dropout_rate", 0.3))
    if name == "sun_attention":
        if model_cfg.get("symmetric", False):
            raise ValueError("the PyTorch twin has the non-symmetric map (Eq. 4) only")
        return SunAttention(channels, classes, sun.CONV_PLAN, model_cfg.get("batch_norm", False),
                            model_cfg.get("hidden", 66), model_cfg.get("beta", 1.0),
                            model_cfg.get("attention_bias", True),
                            model_cfg.get("dropout_rate", 0.5))
    raise ValueError(f"no PyTorch twin of model {name!r}")


def parameter_count(net: nn.Module) -> int:
    """Trainable values (BatchNorm's running statistics excluded, as Flax's params)."""
    return sum(p.numel() for p in net.parameters())
