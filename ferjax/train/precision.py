"""Mixed precision: the dtype a model computes in, separate from the dtype it is stored in.

With config.train.compute_dtype = "bfloat16" the steps cast the parameters and the image to
bfloat16 before the forward pass and the model's outputs back to float32 before the losses.
Parameters, gradients, optimiser state, BatchNorm statistics and losses stay float32: the cast
sits inside the differentiated function, so gradients arrive in the parameters' dtype, and
BatchNorm statistics are not cast at all (flax computes batch statistics of bfloat16 inputs in
float32 and keeps the running averages in their own dtype).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

COMPUTE_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def compute_dtype(train_cfg) -> jnp.dtype:
    """The dtype named by config.train.compute_dtype (default "float32")."""
    name = train_cfg.get("compute_dtype", "float32")
    if name not in COMPUTE_DTYPES:
        raise ValueError(f"config.train.compute_dtype={name!r}; expected one of "
                         f"{sorted(COMPUTE_DTYPES)}")
    return jnp.dtype(COMPUTE_DTYPES[name])


def cast_floats(tree, dtype):
    """`tree` with every floating-point leaf cast to `dtype` (integer leaves untouched)."""
    def cast(x):
        return x.astype(dtype) if jnp.issubdtype(jnp.result_type(x), jnp.floating) else x

    return jax.tree_util.tree_map(cast, tree)
