"""Test-wide JAX settings: fake 8 CPU devices and cheap compilation.

XLA compile time dominates small CPU tests, so optimisations are off (as flax's own example
tests do); the numbers the tests check do not depend on them.
"""

import os

os.environ.setdefault("XLA_FLAGS", "")
import jax  # noqa: E402

jax.config.update("jax_num_cpu_devices", 8)
jax.config.update("jax_disable_most_optimizations", True)
