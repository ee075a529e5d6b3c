"""scripts/mutation.py: Flax compact bodies are mutated, and a mutant's tests run fastest first.

The wrapper patches mutmut's internals; every patched attribute is registered with monkeypatch
first, so the originals come back after each test.
"""

import importlib.util
import pathlib

import pytest

pytest.importorskip("mutmut")

from mutmut.mutation import file_mutation  # noqa: E402
from mutmut.state import state  # noqa: E402
from mutmut.workers import isolation  # noqa: E402

SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "scripts" / "mutation.py"
SOURCE = '''
import flax.linen as nn


class Block(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.relu(nn.Dense(2, name="dense")(x)) + 1


def helper(x):
    return x * 2
'''


@pytest.fixture
def wrapper(monkeypatch):
    for owner, name in ((file_mutation.MutationVisitor, "_skip_node_and_children"),
                        (file_mutation, "function_trampoline_arrangement"),
                        (isolation.ForkServerRunner, "submit"), (isolation.ForkRunner, "submit")):
        monkeypatch.setattr(owner, name, getattr(owner, name))
    spec = importlib.util.spec_from_file_location("mutation_wrapper", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_compact_bodies_are_mutated_and_only_the_trampoline_stays_compact(wrapper):
    plain = file_mutation.mutate_file_contents("block.py", SOURCE).mutant_names
    assert plain and not any("__call__" in name for name in plain)
    wrapper.patch_mutmut()
    mutated = file_mutation.mutate_file_contents("block.py", SOURCE)
    compact = [name for name in mutated.mutant_names if "ǁBlockǁ__call__" in name]
    assert compact and set(plain) < set(mutated.mutant_names)
    # Flax allows one compact method per module: the trampoline keeps the decorator, the
    # original and mutated copies it dispatches to do not.
    assert mutated.code.count("@nn.compact") == 1
    compile(mutated.code, "block.py", "exec")


def test_only_a_lone_compact_decorator_counts(wrapper):
    import libcst as cst
    method = lambda decorators: cst.parse_statement(  # noqa: E731
        f"{decorators}def __call__(self, x):\n    return x\n")
    assert wrapper.only_compact(method("@nn.compact\n"))
    assert wrapper.only_compact(method("@compact\n"))
    assert not wrapper.only_compact(method("@nn.compact\n@other\n"))
    assert not wrapper.only_compact(method("@property\n"))
    assert not wrapper.only_compact(method(""))


def test_a_mutants_tests_are_submitted_fastest_first(wrapper, monkeypatch):
    submitted = []
    monkeypatch.setattr(isolation.ForkServerRunner, "submit",
                        lambda self, name, tests, limit, estimate: submitted.append(tests))
    wrapper.patch_mutmut()
    monkeypatch.setattr(state(), "duration_by_test", {"slow": 9.0, "fast": 0.1, "mid": 2.0})
    isolation.ForkServerRunner.submit(None, "m", ["slow", "unknown", "mid", "fast"], 10, 11.0)
    assert submitted == [["unknown", "fast", "mid", "slow"]]


def test_sample_arguments_are_parsed_and_bad_ones_named(wrapper, capsys):
    args = wrapper.parse_sample(["40", "--seed", "2", "ferjax.models*"])
    assert (args.per_file, args.seed, args.patterns) == (40, 2, ["ferjax.models*"])
    for bad, word in ((["forty"], "N"), (["0"], "N must be at least 1"), (["4", "--seed"], "--seed")):
        with pytest.raises(SystemExit):
            wrapper.parse_sample(bad)
        assert word in capsys.readouterr().err
