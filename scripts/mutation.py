"""mutmut, with the bodies of Flax `@nn.compact` methods mutated too.

mutmut 3 never mutates a decorated function (a decorator runs at definition time and may not
survive being copied). Every Flax Linen model here defines its layers in an `@nn.compact`
`__call__`, so plain `mutmut run` would leave the architectures themselves (layer order,
activations, pooling, residual sums) unmutated. `nn.compact` only marks the method, and Flax
lets any function called from a compact method create submodules, so this wrapper lets mutmut
treat a method whose only decorator is `nn.compact` like an undecorated one: the trampoline
keeps the decorator, the original and mutated copies that it dispatches to do not.

Usage is mutmut's command line (`[tool.mutmut]` in pyproject.toml applies):

    python scripts/mutation.py run "ferjax.models.jalal*"
    python scripts/mutation.py results

Only the internals of the pinned mutmut version (the `test` extra) are patched; the patch is
applied in this process, and mutmut generates mutants in forked workers, which inherit it.
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m
from mutmut.__main__ import cli
from mutmut.mutation import file_mutation

COMPACT = m.Decorator(decorator=m.Attribute(value=m.Name("nn"), attr=m.Name("compact"))
                      | m.Name("compact"))


def only_compact(node: cst.CSTNode) -> bool:
    """True for a function whose decorators are exactly one `@nn.compact` (or `@compact`)."""
    return (isinstance(node, cst.FunctionDef) and len(node.decorators) == 1
            and m.matches(node.decorators[0], COMPACT))


def patch_mutmut() -> None:
    skip = file_mutation.MutationVisitor._skip_node_and_children
    arrange = file_mutation.function_trampoline_arrangement

    def skip_unless_compact(self, node):
        if only_compact(node):
            # Judge the method as if undecorated; its body is then visited and mutated.
            return skip(self, node.with_changes(decorators=()))
        return skip(self, node)

    def arrange_compact(function, mutants, class_name):
        declarations, methods, assignments, names = arrange(function, mutants, class_name)
        if only_compact(function):
            # methods[0] is the trampoline (keeps @nn.compact); the copies it calls must not be
            # compact themselves: Flax allows one compact method per module.
            methods = [methods[0], *(f.with_changes(decorators=()) for f in methods[1:])]
        return declarations, methods, assignments, names

    file_mutation.MutationVisitor._skip_node_and_children = skip_unless_compact
    file_mutation.function_trampoline_arrangement = arrange_compact


if __name__ == "__main__":
    patch_mutmut()
    cli()
