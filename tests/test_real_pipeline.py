"""A real-dataset builder feeds the trainer's input pipeline: prepared on first use through
config.data (array_record by default, no TensorFlow), folds taken from the `fold` feature."""

import real_trees

from ferjax.configs import pieces
from ferjax.data import pipeline


def test_rafd_folds_through_build_data(tmp_path):
    manual = real_trees.rafd_tree(tmp_path / "m")
    data_cfg, protocol = pieces.real_data("rafd", "pose", image_size=16, grey=False,
                                          crop_size=(12, 12))
    assert protocol == "kfold" and (data_cfg.cv_split, data_cfg.num_folds) == ("train", 5)
    data_cfg.update({"manual_dir": str(manual), "data_dir": str(tmp_path / "d"), "fold": 1,
                     "stats_examples": 8})
    data_cfg.builder_kwargs = {"image_size": 16}
    data = pipeline.build_data(data_cfg, seed=0)
    # pose without contempt: models 1 (fold 0), 16 (fold 1, two images), 73 (fold 4)
    assert (data.info["train_size"], data.info["eval_size"]) == (2, 2)
    assert sorted(int(data.eval[i]["subject_id"]) for i in range(2)) == [16, 16]
    assert data.info["image_shape"] == (12, 12, 3)
    assert (tmp_path / "d/rafd/pose-image_size_16/1.0.0/prepare_report.json").is_file()
