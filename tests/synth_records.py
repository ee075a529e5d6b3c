"""FERSynth records rendered in memory with a config's builder settings (the records its TFDS
builder would store), for end-to-end runs that need no dataset build."""

from ferjax import synth
from ferjax.data import sources


def fersynth_records(data_cfg, split: str, subjects: int) -> sources.ListSource:
    """Every class of the first `subjects` subjects of a FERSynth split, as its builder."""
    config = synth.preset(data_cfg.config, **dict(data_cfg.builder_kwargs))
    return sources.ListSource([
        synth.render_subject_example(config, int(data_cfg.seed), int(subject), name, 0)
        for subject in synth.split_subjects(config, split)[:subjects]
        for name in config.classes])


def use_memory_records(config, train_subjects: int = 2, eval_subjects: int = 1) -> None:
    """Points config.data at in-memory records: `train_subjects` training subjects (k-NN needs
    11 embeddings: 2), `eval_subjects` evaluation subjects."""
    data = config.data
    data.source = "memory"
    data.records = {data.train_split: fersynth_records(data, "train", train_subjects),
                    data.eval_split: fersynth_records(data, data.eval_split, eval_subjects)}
