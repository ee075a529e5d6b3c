"""No import runs from a lower layer of ferjax to a higher one (docs/architecture.md, Layers).

Scans every module's source (ast, imports inside functions included), so the test fails on the
first upward import wherever it is written.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "ferjax"

# Layer of each top-level part of ferjax; a module may import its own layer and lower ones.
LAYERS = {
    "labels": 0, "ibug68": 0, "files": 0, "losses": 0, "models": 0, "data": 0, "synth": 0, "preprocess": 0,
    "evaluation": 1, "explain": 1, "viz": 1,
    "train": 2,
    "runs": 3, "sweep": 3, "collect": 3, "evaluate": 3,
}


def _part(path: Path, package: Path = PACKAGE) -> str:
    rel = path.relative_to(package)
    return rel.parts[0].removesuffix(".py") if rel.parts[0] != "__init__.py" else ""


def _imported_parts(path: Path) -> set[tuple[str, int]]:
    """(ferjax part, line) of every ferjax import in the module at path."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] if node.module != "ferjax" else [
                f"ferjax.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "ferjax" and len(parts) > 1:
                found.add((parts[1], node.lineno))
    return found


def upward_imports(package: Path = PACKAGE) -> list[str]:
    problems = []
    for path in sorted(package.rglob("*.py")):
        part = _part(path, package)
        if part not in LAYERS:
            continue
        for target, line in _imported_parts(path):
            if LAYERS.get(target, -1) > LAYERS[part]:
                problems.append(f"{path.relative_to(package.parent)}:{line} ({part}, layer "
                                f"{LAYERS[part]}) imports ferjax.{target} (layer "
                                f"{LAYERS[target]})")
    return problems


def test_every_part_of_the_package_has_a_layer():
    parts = {_part(p) for p in PACKAGE.rglob("*.py")} - {""}
    assert parts <= set(LAYERS), f"give {sorted(parts - set(LAYERS))} a layer in LAYERS"


def test_no_module_imports_a_higher_layer():
    assert upward_imports() == []
    # The rule the layers encode: analysis never reaches up into training or running.
    assert max(LAYERS[p] for p in ("evaluation", "explain", "viz")) < LAYERS["train"]


def test_the_scan_finds_an_upward_import(tmp_path):
    fake = tmp_path / "ferjax"
    (fake / "viz").mkdir(parents=True)
    (fake / "viz" / "bad.py").write_text("def f():\n    from ferjax.train import loop\n")
    (fake / "evaluation").mkdir()
    (fake / "evaluation" / "worse.py").write_text("from ferjax import runs\n")
    (fake / "evaluation" / "fine.py").write_text("from ferjax.data import pipeline\n")
    assert upward_imports(fake) == [
        "ferjax/evaluation/worse.py:1 (evaluation, layer 1) imports ferjax.runs (layer 3)",
        "ferjax/viz/bad.py:2 (viz, layer 1) imports ferjax.train (layer 2)"]
