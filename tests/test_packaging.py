"""An installed wheel carries the TFDS builders and the experiment configs under ferjax."""

import os
import shutil
import site
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Run with nothing but the unpacked wheel (and the interpreter's own site-packages) on the path.
IMPORTS = textwrap.dedent("""
    import sys
    import ferjax
    site, repo = sys.argv[1], sys.argv[2]
    assert ferjax.__file__.startswith(site), ferjax.__file__
    # The checkout itself must not be on the path (a virtual environment inside it may be).
    assert repo not in sys.path, sys.path

    from ferjax.data import builders
    import ferjax.datasets.jaffe.jaffe_dataset_builder as jaffe
    assert builders.builder_class("jaffe") is jaffe.Builder
    assert jaffe.__file__.startswith(site)
    assert builders.protocol("rafd").num_folds == 5
    fersynth = builders.builder_class("fersynth")(config="front", data_dir=sys.argv[3])
    assert fersynth.info.features["image"].shape == (160, 125, 1)

    from ferjax.configs import sun_attention
    config = sun_attention.get_config("runlocal")
    assert sun_attention.__file__.startswith(site)
    assert config.model.name == "sun_attention" and config.model.hidden == 66
    print("ok")
""")


def _source_copy(dest: Path) -> Path:
    """The files a wheel is built from, copied so the build leaves the checkout untouched."""
    dest.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, dest / name)
    for name in ("ferjax",):
        shutil.copytree(REPO / name, dest / name, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def _build_wheel(tmp: Path) -> Path:
    """The ferjax wheel built from a copy of the checkout, in tmp/dist."""
    source = _source_copy(tmp / "src")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-q", "-w", str(tmp / "dist"), str(source)], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    (wheel,) = (tmp / "dist").glob("ferjax-*.whl")
    return wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    return _build_wheel(tmp_path_factory.mktemp("wheel"))


def test_wheel_ships_builders_and_configs(tmp_path, wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for dataset in (REPO / "ferjax" / "datasets").iterdir():
        if (dataset / "__init__.py").is_file():
            assert f"ferjax/datasets/{dataset.name}/{dataset.name}_dataset_builder.py" in names
    assert {f"ferjax/configs/{p.name}" for p in (REPO / "ferjax" / "configs").glob("*.py")} <= names
    assert not any(n.startswith(("datasets/", "configs/")) for n in names)  # no top-level names

    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    run = subprocess.run(
        [sys.executable, "-s", "-c", IMPORTS, str(site), str(REPO), str(tmp_path / "tfds")],
        capture_output=True, text=True, cwd=tmp_path,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().endswith("ok")


def _venv_with_wheel(root: Path, wheel: Path) -> Path:
    """A fresh virtual environment with the wheel installed; its bin folder.

    The dependencies come from this interpreter's site-packages through a .pth line; a line
    only adds the folder to sys.path (the .pth files inside it, such as the editable install's
    finder of the checkout, are not run), so the wheel's ferjax is the one imported.
    """
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (new_site,) = venv.glob("lib/python*/site-packages")
    (new_site / "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    install = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-deps", "--no-index", "-q",
         str(wheel)], capture_output=True, text=True)
    assert install.returncode == 0, install.stderr
    return venv / "bin"


def _run(bin_dir: Path, cwd: Path, *command: str) -> subprocess.CompletedProcess:
    """A command of the venv, from outside the checkout, with the venv first on PATH."""
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(cwd), "JAX_PLATFORMS": "cpu",
           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def test_installed_wheel_trains_and_sweeps_with_its_console_commands(tmp_path, wheel):
    bin_dir = _venv_with_wheel(tmp_path, wheel)
    where = _run(bin_dir, tmp_path, str(bin_dir / "python"), "-c",
                 "import ferjax; print(ferjax.__file__)")
    assert where.stdout.startswith(str(tmp_path / "venv")), where.stdout + where.stderr
    for command in ("ferjax-train", "ferjax-sweep", "ferjax-collect", "ferjax-evaluate",
                    "ferjax-predict", "ferjax-pretrained",
                    "ferjax-export"):
        assert (bin_dir / command).is_file(), command

    # The smoke config, named as a module, on a live FERSynth at 32x32 (a few seconds).
    workdir = tmp_path / "run"
    train = _run(bin_dir, tmp_path, "ferjax-train",
                 "--config=ferjax.configs.sun_attention:runlocal", f"--workdir={workdir}",
                 "--config.data.source=fersynth_live", "--config.data.crop_size=(32, 32)",
                 "--config.data.stats_examples=16", "--config.evals.attention.max_examples=16")
    assert train.returncode == 0, train.stderr[-3000:]
    assert (workdir / "results.json").is_file()

    sweep = _run(bin_dir, tmp_path, "ferjax-sweep",
                 "--config=ferjax.configs.sun_attention:runlocal", "--dry_run",
                 f"--workdir={tmp_path / 'sweep'}")
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    commands = [line.split() for line in sweep.stdout.splitlines() if "--workdir=" in line]
    assert len(commands) == 4  # 2 weight maps x 2 seeds
    for command in commands:
        python, dash_m, module, config = command[:4]
        assert Path(python).is_file() and (dash_m, module) == ("-m", "ferjax.launch")
        config_file = config.removeprefix("--config=").partition(":")[0]
        assert Path(config_file).is_file() and config_file.startswith(str(tmp_path / "venv"))
    launcher = _run(bin_dir, tmp_path, commands[0][0], "-m", "ferjax.launch", "--help")
    # absl's --help exits 1; the launcher's own flags in the help show the module ran.
    assert "--allow_config_change" in launcher.stdout, launcher.stdout + launcher.stderr


def test_requires_python_admits_no_version_a_dependency_refuses():
    """Every Python minor version pyproject.toml admits is admitted by every installed
    dependency's own Requires-Python (it said >=3.10 while jax, grain and orbax need 3.11)."""
    import importlib.metadata
    import tomllib

    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    ours = SpecifierSet(project["requires-python"])
    admitted = [f"3.{minor}" for minor in range(6, 20) if f"3.{minor}" in ours]
    assert admitted, project["requires-python"]
    refused = []
    for line in project["dependencies"]:
        name = Requirement(line).name
        theirs = importlib.metadata.metadata(name).get("Requires-Python")
        if theirs:
            refused += [f"{name} ({theirs}) refuses {v}" for v in admitted
                        if f"{v}.0" not in SpecifierSet(theirs)]
    assert not refused, refused
    assert project["license"] == "Apache-2.0"
    assert "Apache License" in (REPO / "LICENSE").read_text() and "Version 2.0" in (
        REPO / "LICENSE").read_text()
