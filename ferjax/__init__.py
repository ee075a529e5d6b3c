"""ferjax: facial expression recognition in JAX/Flax.

Nothing is imported eagerly here so that `import ferjax` stays cheap and has no side effects;
import the submodule you need (`ferjax.models`, `ferjax.losses`, `ferjax.train`, ...).
"""

__version__ = "0.1.0"
