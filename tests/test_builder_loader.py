"""ferjax finds its own builders even when Hugging Face's `datasets` is importable."""

import subprocess
import sys
import textwrap


def test_builders_load_despite_a_foreign_datasets_package(tmp_path):
    fake = tmp_path / "datasets"
    fake.mkdir()
    (fake / "__init__.py").write_text("FOREIGN = True\n")
    code = textwrap.dedent("""
        import datasets, sys
        assert datasets.FOREIGN
        from ferjax.data import builders
        module = builders.builder_module('jaffe')
        assert module.__name__ == 'ferjax.datasets.jaffe.jaffe_dataset_builder'
        assert 'jaffe' in builders.available() and builders.protocol('jaffe').dataset == 'jaffe'
        assert sys.modules['datasets'].FOREIGN
        print('ok')
    """)
    import pathlib

    import ferjax
    repo = pathlib.Path(ferjax.__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         env={"PYTHONPATH": f"{tmp_path}:{repo}", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_unknown_builder_names_the_available_ones():
    import pytest

    from ferjax.data import builders
    with pytest.raises(ValueError, match="unknown dataset builder 'nope'"):
        builders.builder_class("nope")
