"""An installed wheel carries the TFDS builders and the experiment configs under ferjax."""

import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

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
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, dest / name)
    for name in ("ferjax",):
        shutil.copytree(REPO / name, dest / name, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def test_wheel_ships_builders_and_configs(tmp_path):
    source = _source_copy(tmp_path / "src")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-q", "-w", str(tmp_path / "dist"), str(source)], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    (wheel,) = (tmp_path / "dist").glob("ferjax-*.whl")
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
