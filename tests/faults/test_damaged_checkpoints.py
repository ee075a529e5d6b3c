"""Fault injection, in process: each form of damaged newest checkpoint (truncated array file,
garbage _METADATA, empty step folder) is moved aside and the rerun from the newest intact one
ends equal to an uninterrupted run."""

import shutil
from pathlib import Path

import pytest
from toy import toy_config

from ferjax.train import checkpoint, loop, writers

pytestmark = pytest.mark.faults

STEPS = 6


def damage(workdir: Path, form: str, step: int) -> None:
    """The three damages seen in practice, applied to checkpoints/<step>."""
    folder = workdir / "checkpoints" / str(step)
    if form == "truncated_array":
        biggest = max((folder / "state").rglob("d/*"), key=lambda p: p.stat().st_size)
        biggest.write_bytes(biggest.read_bytes()[: biggest.stat().st_size // 2])
    elif form == "garbage_metadata":
        (folder / "state" / "_METADATA").write_text("{not json")
    elif form == "empty_step_folder":
        shutil.rmtree(folder)
        folder.mkdir()
    else:
        raise ValueError(form)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """An uninterrupted STEPS-step run: its workdir and result."""
    workdir = tmp_path_factory.mktemp("finished")
    return workdir, loop.train_and_evaluate(toy_config(steps=STEPS), workdir)


@pytest.mark.parametrize("form", ["truncated_array", "garbage_metadata", "empty_step_folder"])
def test_damaged_newest_checkpoint_falls_back_and_is_kept_aside(finished, tmp_path, form, capsys):
    source, straight = finished
    workdir = tmp_path / "run"
    shutil.copytree(source, workdir)
    damage(workdir, form, STEPS)
    capsys.readouterr()
    resumed = loop.train_and_evaluate(toy_config(steps=STEPS), workdir)
    out = capsys.readouterr().out
    message = [l for l in out.splitlines() if "is damaged" in l]
    assert len(message) == 1, out
    assert message[0].startswith(f"checkpoint at step {STEPS} is damaged (")
    assert f"resuming from step {STEPS - 2}" in message[0]
    assert str(workdir / checkpoint.DAMAGED_DIR / str(STEPS)) in message[0]
    assert f"resumed from checkpoint at step {STEPS - 2}" in out
    aside = workdir / checkpoint.DAMAGED_DIR / str(STEPS)
    assert aside.is_dir()  # kept, not deleted
    if form != "empty_step_folder":
        assert (aside / "state").is_dir()
    assert (workdir / "checkpoints" / str(STEPS)).is_dir()  # retrained and saved again
    assert resumed["confusion"] == straight["confusion"]
    assert resumed["loss"] == pytest.approx(straight["loss"], rel=1e-6)
    train = [l["loss"] for l in writers.read_metrics(workdir) if l["split"] == "train"]
    assert train == pytest.approx([l["loss"] for l in writers.read_metrics(source)
                                   if l["split"] == "train"], rel=1e-6)


def test_no_restorable_checkpoint_raises_and_moves_nothing(finished, tmp_path):
    source, _ = finished
    workdir = tmp_path / "run"
    shutil.copytree(source / "checkpoints", workdir / "checkpoints")
    steps = sorted(int(p.name) for p in (workdir / "checkpoints").iterdir() if p.name.isdigit())
    for step in steps:
        damage(workdir, "garbage_metadata", step)
    with pytest.raises(checkpoint.CheckpointRestoreError,
                       match=r"no checkpoint .* could be restored \(step 6: .*step 2: .*Nothing "
                             r"was moved"):
        loop.train_and_evaluate(toy_config(steps=STEPS), workdir)
    assert not (workdir / checkpoint.DAMAGED_DIR).exists()
