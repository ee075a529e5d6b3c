"""FERAtt (Marrero Fernandez et al. 2019): attention, reconstruction and representation for FER.

    G_att: ResNet34 encoder + U-Net decoder → (B, H, W, F) attention features
    G_ft:  conv9×9 (→ F) → N residual blocks → conv3×3, plus the skip from the first conv
    fusion: sigmoid(G_att) ⊙ G_ft
    G_rec: concat[fusion, image, G_att] → conv3×3 (32) + ReLU → conv1×1 (3) → BN → ReLU = I_att
           (B, H, W, 3), then average pooling to the classifier size (32×32)
    G_rep: PreActResNet18 on the pooled I_att → embedding z → linear classifier

Variants (config.model.variant): "baseline" (PreActResNet18 alone on the image average-pooled to
the classifier size), "feratt_cls" (FERAtt, plain PreActResNet18 head, trained with CE and the
attention loss) and "feratt_rep_cls" (FERAtt with the embedding layer z, trained with CE, the
attention loss and the Gaussian manifold loss).

Paper-vs-code choices (config.model option → default; alternative):
- input size: data image_shape; the paper renders 128×128, the code 64×64. H = W, divisible by 64
  (the encoder downsamples by 32 and the decoder's centre block pools once more).
- num_resblocks: 4 (paper "four ResBlocks"); the code's final version uses 8.
- embedding_dim: 64 (paper); the code uses 32.
- feature_channels: F, channels of G_att's output and of G_ft; 0 = number of classes (code;
  the paper does not give it).
- G_att encoder: random init (the code loads ImageNet ResNet34 weights; nothing is downloaded
  here: `resnet34_weights` names a user-supplied file, see ferjax.models.resnet34_weights).
  The stem pools with a 2×2 max pool, as the code (torchvision uses 3×3 stride 2).
- rec_output_affine: True (code) applies the code's fixed `normalize_layer` affine
  (code_normalize_layer) to I_att before pooling it for G_rep; the attention loss and the
  figures see I_att itself. False feeds I_att unchanged (the paper does not mention it).
- G_rec's last ReLU makes I_att non-negative, so the face-only target must be non-negative too
  (e.g. images in [0, 1], as the code); `rec_output_relu=False` drops it for normalised inputs.
- Initialisation: Flax defaults (LeCun normal), not PyTorch's; BN momentum/eps as PyTorch.

Outputs: "logits" (B, K), "embedding" (B, D), "features" (B, 8·rep_width); FERAtt variants add
"attention_image" (B, H, W, 3) = I_att at full resolution, "attention_image_small"
(B, s, s, 3) = what G_rep is fed (I_att after the code's affine, pooled), and "attention" (B, H, W) = channel mean of
sigmoid(G_att) in [0, 1].
"""

from __future__ import annotations

import functools
from typing import Any, Mapping, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from ferjax.models.from_config import module_kwargs
from ferjax.models.preact_resnet import PreActResNet, batch_norm
from ferjax.models.small_map_conv import small_map_conv

VARIANTS = ("baseline", "feratt_cls", "feratt_rep_cls")

# At 64×64 input the encoder's layer 4 and the decoder's centre run on 2×2 maps, where XLA's CPU
# convolution is 15–20× slower than the equivalent matrix product (small_map_conv).
Conv = functools.partial(nn.Conv, conv_general_dilated=small_map_conv)


class BasicBlock(nn.Module):
    """torchvision ResNet basic block: conv3×3-BN-ReLU-conv3×3-BN + (projected) identity, ReLU."""

    features: int
    stride: int = 1

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
        shortcut = x
        if self.stride != 1 or x.shape[-1] != self.features:
            shortcut = Conv(self.features, (1, 1), strides=self.stride, use_bias=False,
                               name="downsample_conv")(x)
            shortcut = batch_norm(train, "downsample_bn")(shortcut)
        out = Conv(self.features, (3, 3), strides=self.stride, padding=1, use_bias=False,
                      name="conv1")(x)
        out = nn.relu(batch_norm(train, "bn1")(out))
        out = Conv(self.features, (3, 3), padding=1, use_bias=False, name="conv2")(out)
        out = batch_norm(train, "bn2")(out)
        return nn.relu(out + shortcut)


class ResNetEncoder(nn.Module):
    """ResNet34 trunk; returns the outputs of layer1..layer4 at strides 4, 8, 16, 32."""

    widths: Sequence[int] = (64, 128, 256, 512)
    blocks: Sequence[int] = (3, 4, 6, 3)

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool) -> list[jnp.ndarray]:
        out = Conv(self.widths[0], (7, 7), strides=2, padding=3, use_bias=False,
                      name="conv1")(x)
        out = nn.relu(batch_norm(train, "bn1")(out))
        out = nn.max_pool(out, window_shape=(2, 2), strides=(2, 2))
        skips = []
        for stage, (width, count) in enumerate(zip(self.widths, self.blocks)):
            for block in range(count):
                stride = 2 if stage > 0 and block == 0 else 1
                out = BasicBlock(width, stride, name=f"layer{stage + 1}_{block}")(out, train)
            skips.append(out)
        return skips


def upsample2x(x: jnp.ndarray) -> jnp.ndarray:
    """Bilinear ×2 (half-pixel centres, as PyTorch's align_corners=False). (B,H,W,C)→(B,2H,2W,C)."""
    b, h, w, c = x.shape
    return jax.image.resize(x, (b, 2 * h, 2 * w, c), method="bilinear")


class DecoderBlock(nn.Module):
    """Bilinear ×2 upsampling → conv3×3+ReLU (middle) → conv3×3+ReLU (features)."""

    middle: int
    features: int

    @nn.compact
    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        x = upsample2x(x)
        x = nn.relu(Conv(self.middle, (3, 3), padding=1, name="conv1")(x))
        return nn.relu(Conv(self.features, (3, 3), padding=1, name="conv2")(x))


class AttentionModule(nn.Module):
    """G_att: ResNet encoder + U-Net decoder with skip concatenations (TernausNet layout, as
    the code). (B, H, W, C) → (B, H, W, out_channels) pre-sigmoid attention features."""

    out_channels: int
    encoder_widths: Sequence[int] = (64, 128, 256, 512)
    encoder_blocks: Sequence[int] = (3, 4, 6, 3)
    num_filters: int = 32

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
        nf = self.num_filters
        conv2, conv3, conv4, conv5 = ResNetEncoder(self.encoder_widths, self.encoder_blocks,
                                                   name="encoder")(x, train)
        center = DecoderBlock(nf * 16, nf * 8, name="center")(
            nn.max_pool(conv5, window_shape=(2, 2), strides=(2, 2)))
        dec5 = DecoderBlock(nf * 16, nf * 8, name="dec5")(jnp.concatenate([center, conv5], -1))
        dec4 = DecoderBlock(nf * 16, nf * 8, name="dec4")(jnp.concatenate([dec5, conv4], -1))
        dec3 = DecoderBlock(nf * 8, nf * 2, name="dec3")(jnp.concatenate([dec4, conv3], -1))
        dec2 = DecoderBlock(nf * 4, nf * 4, name="dec2")(jnp.concatenate([dec3, conv2], -1))
        dec1 = DecoderBlock(nf * 4, nf, name="dec1")(dec2)
        head = nn.relu(Conv(nf, (3, 3), padding=1, name="head_conv")(dec1))
        return Conv(self.out_channels, (1, 1), name="head_out")(head)


class FeatureModule(nn.Module):
    """G_ft: conv9×9 → residual blocks (conv3×3 → LeakyReLU 0.2 → conv3×3, + identity) →
    conv3×3, plus the skip from the first conv; no pooling or stride. (B,H,W,C)→(B,H,W,F)."""

    features: int
    num_resblocks: int = 4

    @nn.compact
    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        first = Conv(self.features, (9, 9), padding=4, name="conv_input")(x)
        out = first
        for i in range(self.num_resblocks):
            inner = Conv(self.features, (3, 3), padding=1, name=f"res{i}_conv1")(out)
            inner = nn.leaky_relu(inner, negative_slope=0.2)
            out = out + Conv(self.features, (3, 3), padding=1, name=f"res{i}_conv2")(inner)
        out = Conv(self.features, (3, 3), padding=1, name="conv_mid")(out)
        return out + first


class ReconstructionModule(nn.Module):
    """G_rec: concat[fusion, image, G_att] → conv3×3 (width) + ReLU → conv1×1 (3) → BN → ReLU.
    Returns I_att (B, H, W, 3)."""

    width: int = 32
    output_relu: bool = True

    @nn.compact
    def __call__(self, fused, image, g_att, train: bool) -> jnp.ndarray:
        x = jnp.concatenate([fused, image, g_att], axis=-1)
        x = nn.relu(Conv(self.width, (3, 3), padding=1, name="conv1")(x))
        x = Conv(3, (1, 1), name="conv2")(x)
        x = batch_norm(train, "bn")(x)
        return nn.relu(x) if self.output_relu else x


# The authors' `normalize_layer`: a fixed per-channel affine x·(std/0.5) + (mean − 0.5)/0.5 with
# the CIFAR-10 mean and std, applied to I_att before the classifier (not to the I_att the
# attention loss compares).
CODE_AFFINE_MEAN = (0.4914, 0.4822, 0.4465)
CODE_AFFINE_STD = (0.2023, 0.1994, 0.2010)


def code_normalize_layer(x: jnp.ndarray) -> jnp.ndarray:
    """The authors' fixed affine on a 3-channel image: channel c ↦ x·(std_c/0.5) +
    (mean_c − 0.5)/0.5. (B, H, W, 3) → (B, H, W, 3)."""
    if x.shape[-1] != 3:
        raise ValueError(f"code_normalize_layer expects 3 channels, got shape {x.shape}")
    scale = jnp.asarray(CODE_AFFINE_STD, x.dtype) / 0.5
    shift = (jnp.asarray(CODE_AFFINE_MEAN, x.dtype) - 0.5) / 0.5
    return x * scale + shift


def average_pool_to(x: jnp.ndarray, size: int) -> jnp.ndarray:
    """Average-pools (B, H, W, C) by the integer factor H // size to (B, size, size, C)."""
    factor = x.shape[1] // size
    if factor == 1:
        return x
    return nn.avg_pool(x, window_shape=(factor, factor), strides=(factor, factor))


class FERAtt(nn.Module):
    """The FERAtt network (or its PreActResNet18 baseline); see the module docstring."""

    num_classes: int
    variant: str = "feratt_rep_cls"
    classifier_size: int = 32
    embedding_dim: int = 64
    feature_channels: int = 0
    num_resblocks: int = 4
    encoder_widths: Sequence[int] = (64, 128, 256, 512)
    encoder_blocks: Sequence[int] = (3, 4, 6, 3)
    decoder_filters: int = 32
    rec_width: int = 32
    rec_output_relu: bool = True
    rec_output_affine: bool = True
    rep_width: int = 64

    @nn.compact
    def __call__(self, images: jnp.ndarray, train: bool = False) -> dict[str, jnp.ndarray]:
        embedding_dim = self.embedding_dim if self.variant == "feratt_rep_cls" else 0
        classifier = PreActResNet(self.num_classes, width=self.rep_width,
                                  embedding_dim=embedding_dim, name="g_rep")
        if self.variant == "baseline":
            return classifier(average_pool_to(images, self.classifier_size), train)

        channels = self.feature_channels or self.num_classes
        g_att = AttentionModule(channels, self.encoder_widths, self.encoder_blocks,
                                self.decoder_filters, name="g_att")(images, train)
        g_ft = FeatureModule(channels, self.num_resblocks, name="g_ft")(images)
        gate = jax.nn.sigmoid(g_att)
        attention_image = ReconstructionModule(self.rec_width, self.rec_output_relu,
                                               name="g_rec")(gate * g_ft, images, g_att, train)
        classifier_input = (code_normalize_layer(attention_image) if self.rec_output_affine
                            else attention_image)
        small = average_pool_to(classifier_input, self.classifier_size)
        outputs = dict(classifier(small, train))
        outputs.update(attention_image=attention_image, attention_image_small=small,
                       attention=jnp.mean(gate, axis=-1))
        return outputs


# config.model keys read by the pretrained-weight loader (ferjax.models.resnet34_weights).
PRETRAINED_KEYS = ("resnet34_weights",)


def feratt_from_config(model_config: Mapping[str, Any], data_info: Mapping[str, Any]) -> FERAtt:
    """Builds FERAtt from config.model (name, resnet34_weights and any of FERAtt's attributes;
    unset ones keep the module's paper defaults) and data_info (num_classes, image_shape)."""
    model = FERAtt(num_classes=int(data_info["num_classes"]),
                   **module_kwargs(FERAtt, model_config, from_data=("num_classes",),
                                   consumed=PRETRAINED_KEYS))
    if model.variant not in VARIANTS:
        raise ValueError(f"config.model.variant={model.variant!r}; choose one of {VARIANTS}")
    height, width = tuple(data_info["image_shape"])[:2]
    size = model.classifier_size
    if height != width:
        raise ValueError(f"FERAtt needs square images; data image_shape is {height}×{width}")
    if height % size:
        raise ValueError(f"image size {height} is not a multiple of "
                         f"config.model.classifier_size={size}")
    if model.variant != "baseline" and height % 64:
        raise ValueError(f"FERAtt's attention module needs an image size divisible by 64 "
                         f"(e.g. 64 or 128); data image_shape is {height}×{width}")
    return model
