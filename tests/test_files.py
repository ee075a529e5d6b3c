"""Result files are written to <name>.tmp and renamed: a failed write (a full disk) keeps the
previous file, removes its temporary file and names the file in one error."""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from ferjax import files  # noqa: E402


def _full_disk(path):
    os.symlink("/dev/full", path.with_name(path.name + ".tmp"))


def test_json_on_a_full_disk_keeps_the_previous_file(tmp_path):
    path = files.write_json(tmp_path / "results.json", {"accuracy": 0.5})
    _full_disk(path)
    with pytest.raises(files.ResultWriteError) as failed:
        files.write_json(path, {"accuracy": float("nan")})
    assert str(failed.value) == (f"could not write {path} (No space left on device); the "
                                 "previous file is intact")
    assert path.read_text() == '{\n  "accuracy": 0.5\n}'
    assert not path.with_name("results.json.tmp").exists()
    files.write_json(path, {"accuracy": float("nan")})  # space again: strict JSON, null
    assert path.read_text() == '{\n  "accuracy": null\n}'


def test_figure_on_a_full_disk_writes_nothing_and_names_it(tmp_path):
    path = tmp_path / "figures" / "curves.png"
    path.parent.mkdir()
    _full_disk(path)
    fig = plt.figure()
    with pytest.raises(files.ResultWriteError, match="curves.png .*nothing was written"):
        files.save_figure(fig, path)
    assert not path.exists() and not path.with_name("curves.png.tmp").exists()
    files.save_figure(fig, path, dpi=20)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plt.close(fig)
