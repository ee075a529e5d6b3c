"""mutmut, with the bodies of Flax `@nn.compact` methods mutated too, fastest tests first, and
an optional uniform sample of the mutants not yet checked.

mutmut 3 never mutates a decorated function (a decorator runs at definition time and may not
survive being copied). Every Flax Linen model here defines its layers in an `@nn.compact`
`__call__`, so plain `mutmut run` leaves the architectures themselves (layer order,
activations, pooling, residual sums) unmutated. `nn.compact` only marks the method, and Flax
lets any function called from a compact method create submodules, so this wrapper lets mutmut
treat a method whose only decorator is `nn.compact` like an undecorated one: the trampoline
keeps the decorator, the original and mutated copies it dispatches to do not.

mutmut runs a mutant's tests with `-x` in no particular order; here they run in order of their
measured duration, so a killed mutant usually stops after its cheapest failing test.

Usage is mutmut's command line (`[tool.mutmut]` in pyproject.toml applies), plus `sample`:

    python scripts/mutation.py run "ferjax.models.jalal*"     # every mutant of a module
    python scripts/mutation.py sample 40 --seed 0 "ferjax.models*"
        # generate the mutants, then test a uniform random sample of at most 40 not yet
        # checked mutants per source file (a score estimate where the full run is too long)
    python scripts/mutation.py results

The patches touch internals of the pinned mutmut (the `test` extra) in this process; mutmut
generates mutants in forked workers and runs them from a forked server, which inherit them.
"""

from __future__ import annotations

import argparse
import fnmatch
import random
import sys
from pathlib import Path

import libcst as cst
import libcst.matchers as m

COMPACT = m.Decorator(decorator=m.Attribute(value=m.Name("nn"), attr=m.Name("compact"))
                      | m.Name("compact"))


def only_compact(node: cst.CSTNode) -> bool:
    """True for a function whose decorators are exactly one `@nn.compact` (or `@compact`)."""
    return (isinstance(node, cst.FunctionDef) and len(node.decorators) == 1
            and m.matches(node.decorators[0], COMPACT))


def patch_mutmut() -> None:
    from mutmut.mutation import file_mutation
    from mutmut.state import state
    from mutmut.workers import isolation

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

    for runner in (isolation.ForkServerRunner, isolation.ForkRunner):
        def submit(self, mutant_name, tests, cpu_time_limit, estimated_time, _submit=runner.submit):
            durations = state().duration_by_test
            fastest_first = sorted(tests, key=lambda test: (durations.get(test, 0.0), test))
            return _submit(self, mutant_name, fastest_first, cpu_time_limit, estimated_time)
        runner.submit = submit


def unchecked_mutants(patterns: list[str]) -> dict[str, list[str]]:
    """{source file: names of its mutants without a verdict that match any of `patterns`}."""
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.utils.file_utils import walk_mutatable_files

    by_file = {}
    for path in walk_mutatable_files():
        data = SourceFileMutationData(path=path)
        data.load()
        names = [name for name, code in data.exit_code_by_key.items() if code is None
                 and (not patterns or any(fnmatch.fnmatch(name, p) for p in patterns))]
        if names:
            by_file[str(path)] = sorted(names)
    return by_file


def generate_mutants() -> None:
    from mutmut.__main__ import create_mutants
    from mutmut.utils.file_utils import copy_also_copy_files, copy_src_dir, setup_source_paths

    Path("mutants").mkdir(exist_ok=True)
    copy_src_dir()
    copy_also_copy_files()
    setup_source_paths()
    create_mutants(max_children=2)


def parse_sample(argv: list[str]) -> argparse.Namespace:
    """`sample N [--seed S] [PATTERN ...]`; a bad value exits with a usage line naming it."""
    parser = argparse.ArgumentParser(prog="scripts/mutation.py sample")
    parser.add_argument("per_file", type=int, metavar="N",
                        help="at most this many unchecked mutants per source file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("patterns", nargs="*", metavar="PATTERN",
                        help="mutant-name globs, e.g. 'ferjax.models*' (default: all)")
    args = parser.parse_intermixed_args(argv)
    if args.per_file < 1:
        parser.error(f"N must be at least 1, got {args.per_file}")
    return args


def sample(argv: list[str]) -> list[str]:
    """`sample N [--seed S] [PATTERN ...]` → the mutant names to run."""
    args = parse_sample(argv)
    per_file, seed, patterns = args.per_file, args.seed, args.patterns
    generate_mutants()
    chosen = []
    rng = random.Random(seed)
    for path, names in sorted(unchecked_mutants(patterns).items()):
        picked = names if len(names) <= per_file else rng.sample(names, per_file)
        print(f"{path}: {len(picked)} of {len(names)} unchecked mutants")
        chosen += sorted(picked)
    return chosen


if __name__ == "__main__":
    patch_mutmut()
    from mutmut.__main__ import cli
    if len(sys.argv) > 1 and sys.argv[1] == "sample":
        names = sample(sys.argv[2:])
        if not names:
            sys.exit("no unchecked mutants match")
        sys.argv = [sys.argv[0], "run", "--max-children", "2", *names]
    cli()
