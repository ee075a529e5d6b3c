"""Class-specific Grad-CAM (Selvaraju et al.) for any named layer of a Linen model.

The layer is named by its module path, e.g. "stage_2/conv4a" for EmotionalDAN's last-stage
conv4a block. Its output A is read, and its gradient obtained, by intercepting that module's
__call__ (flax.linen.intercept_methods) and adding a zero perturbation ε: ∂y_c/∂ε = ∂y_c/∂A.
So the model needs no Grad-CAM-specific code and its variables no extra collection.

The score differentiated is the TARGET class's logit y_c of each image (the authors' code
differentiated what amounts to the sum of all logits, which is not class-specific). Images are
independent in inference mode, so one gradient of Σ_b y_{b, c_b} gives every image's map.
"""

from __future__ import annotations

from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp


def _run_with_layer(model: nn.Module, variables, images, path: tuple[str, ...], perturbation):
    captured = []
    seen = []

    def interceptor(next_fun, args, kwargs, context):
        out = next_fun(*args, **kwargs)
        if context.method_name == "__call__":
            seen.append("/".join(context.module.path))
            if context.module.path == path:
                if perturbation is not None:
                    out = out + perturbation
                captured.append(out)
        return out

    with nn.intercept_methods(interceptor):
        outputs = model.apply(variables, images, train=False)
    if len(captured) != 1:
        known = sorted({name for name in seen if name})
        raise ValueError(f"Grad-CAM layer {'/'.join(path)!r} was called {len(captured)} times "
                         f"in one forward pass; it must be called exactly once. Module paths "
                         f"called: {known}")
    return outputs, captured[0]


def activation_and_gradient(model: nn.Module, variables: Any, images: jnp.ndarray, layer: str,
                            targets: jnp.ndarray, output_key: str = "logits"):
    """Activation A of `layer` and ∂y_target/∂A, in inference mode.

    Args:
      model, variables: a Linen module called as model.apply(variables, images, train=False)
        returning a dict with outputs[output_key] (B, K).
      images: (B, H, W, C).
      layer: module path joined by "/", e.g. "stage_2/conv4a".
      targets: (B,) int class per image.
    Returns:
      (A (B, h, w, k), gradient (B, h, w, k), logits (B, K)).
    """
    path = tuple(layer.split("/"))
    shape = jax.eval_shape(lambda: _run_with_layer(model, variables, images, path, None)[1])

    def score(perturbation):
        outputs, activation = _run_with_layer(model, variables, images, path, perturbation)
        logits = outputs[output_key]
        chosen = jnp.take_along_axis(logits, targets[:, None].astype(jnp.int32), axis=1)
        return jnp.sum(chosen), (activation, logits)

    gradient, (activation, logits) = jax.grad(score, has_aux=True)(
        jnp.zeros(shape.shape, shape.dtype))
    return activation, gradient, logits


def cam_from_activation(activation: jnp.ndarray, gradient: jnp.ndarray) -> jnp.ndarray:
    """Grad-CAM map ReLU(Σ_k α_k A_k), α_k = spatial mean of ∂y/∂A_k; (B, h, w, k) -> (B, h, w).

    Each map is divided by its maximum (maps that are all zero stay zero).
    """
    weights = jnp.mean(gradient, axis=(1, 2))
    cam = nn.relu(jnp.einsum("bhwk,bk->bhw", activation, weights))
    peak = jnp.max(cam, axis=(1, 2), keepdims=True)
    return jnp.where(peak > 0, cam / jnp.where(peak > 0, peak, 1.0), 0.0)


def grad_cam(model: nn.Module, variables: Any, images: jnp.ndarray, layer: str,
             targets: jnp.ndarray | None = None, output_key: str = "logits",
             resize: bool = True):
    """Class-specific Grad-CAM maps of `layer` for `targets` (default: predicted classes).

    Returns:
      (cams (B, H, W) in [0, 1] bilinearly resized to the image size, or (B, h, w) with
       resize=False; logits (B, K)).
    """
    if targets is None:
        targets = jnp.argmax(model.apply(variables, images, train=False)[output_key], axis=-1)
    activation, gradient, logits = activation_and_gradient(model, variables, images, layer,
                                                           targets, output_key)
    cam = cam_from_activation(activation, gradient)
    if resize:
        cam = jax.image.resize(cam, (cam.shape[0],) + images.shape[1:3], "bilinear")
    return cam, logits


def jit_grad_cam(model: nn.Module, layer: str, output_key: str = "logits",
                 resize: bool = True) -> Callable[..., Any]:
    """grad_cam with model and layer fixed, jitted: f(variables, images, targets) -> (cams, logits)."""
    return jax.jit(lambda variables, images, targets: grad_cam(
        model, variables, images, layer, targets, output_key, resize))
