"""No import runs from a lower layer of ferjax to a higher one (docs/architecture.md, Layers),
and every file has one import name: nothing imports the checkout's top-level `configs` link
or a top-level `datasets` package (ferjax.configs and ferjax.datasets are the only names).

Scans every module's source (ast, imports inside functions included), so the test fails on the
first upward import wherever it is written.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "ferjax"

# Layer of each top-level part of ferjax; a module may import its own layer and lower ones.
LAYERS = {
    "labels": 0, "ibug68": 0, "files": 0, "losses": 0, "models": 0, "data": 0, "synth": 0, "preprocess": 0,
    "config_spec": 0,
    # The TFDS builders: loaded by ferjax.data.builders by name, built from ferjax.data.real.
    "datasets": 0,
    "evaluation": 1, "explain": 1, "viz": 1,
    "train": 2,
    "runs": 3, "sweep": 3, "collect": 3, "evaluate": 3,
    # Prediction on photos restores a run (runs, evaluate) and reads its inputs.
    "predict": 3,
    # Export restores a run (evaluate) and writes what ferjax.predict loads back.
    "export": 3,
    # Experiment configs are data about everything below (models, sweeps, evaluators).
    "configs": 4,
    # The launcher runs a config through everything (ferjax-train).
    "launch": 4,
    # Published weights become a run's workdir: a FER-2013 config (configs) and the trainer's
    # checkpoint format.
    "pretrained": 4,
}
REPO = PACKAGE.parent
# Top-level names that must never be imported: the `configs` link of a checkout, and
# `datasets` (Hugging Face's package name).
FORBIDDEN_TOP_LEVEL = ("configs", "datasets")


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


def top_level_imports(root: Path, names=FORBIDDEN_TOP_LEVEL) -> list[str]:
    """file:line of every import of a forbidden top-level name in the Python files of the
    checkout (ferjax/, tests/, benchmarks/, scripts/ and launch.py)."""
    problems = []
    paths = [p for d in ("ferjax", "tests", "benchmarks", "scripts") for p in (root / d).rglob(
        "*.py")] + [root / "launch.py"]
    for path in sorted(p for p in paths if p.is_file()):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found = [node.module]
            else:
                continue
            if any(n.split(".")[0] in names for n in found):
                problems.append(f"{path.relative_to(root)}:{node.lineno}")
    return problems


def test_configs_and_datasets_have_one_import_name():
    assert (PACKAGE / "configs").is_dir() and not (PACKAGE / "configs").is_symlink()
    assert (PACKAGE / "datasets").is_dir() and not (PACKAGE / "datasets").is_symlink()
    assert not (REPO / "datasets").exists()
    assert top_level_imports(REPO) == []


def test_the_import_name_scan_finds_a_top_level_import(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "t.py").write_text("import os\nfrom configs import pieces\n")
    (tmp_path / "launch.py").write_text("def f():\n    import datasets.jaffe\n")
    assert top_level_imports(tmp_path) == ["launch.py:2", "tests/t.py:2"]
