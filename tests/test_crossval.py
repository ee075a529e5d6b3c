import json

import numpy as np
import pytest

from ferjax.evaluation import crossval
from toy import toy_config


def test_summary_is_mean_and_population_std_with_summed_confusion():
    folds = [{"accuracy": 0.5, "macro_f1": 0.4, "confusion": [[1, 1], [0, 2]],
              "class_names": ["a", "b"]},
             {"accuracy": 1.0, "macro_f1": 1.0, "confusion": [[2, 0], [0, 2]],
              "class_names": ["a", "b"]}]
    s = crossval.summarise(folds)
    assert s["accuracy_mean"] == pytest.approx(0.75)
    assert s["accuracy_std"] == pytest.approx(0.25)      # population std, as papers report
    assert s["macro_f1_mean"] == pytest.approx(0.7)
    assert s["confusion"] == [[3, 1], [0, 4]]


def test_kfold_run_trains_each_fold_on_the_other_subjects(tmp_path):
    config = toy_config(steps=2, batch=8)
    config.protocol = "kfold"
    config.data.num_folds = 2
    config.data.cv_split = "train"
    summary = crossval.run(config, tmp_path)
    assert summary["num_folds"] == 2
    sizes = [json.loads((tmp_path / f"fold{k}" / "results.json").read_text())["num_examples"]
             for k in range(2)]
    folds = np.array([int(r["fold"]) % 2 for r in config.data.records["train"].records])
    assert sizes == [int(np.sum(folds == 0)), int(np.sum(folds == 1))]
    saved = json.loads((tmp_path / "crossval.json").read_text())
    assert saved["fold_accuracy"] == summary["fold_accuracy"]
    assert np.sum(saved["confusion"]) == sum(sizes)
    assert (tmp_path / "figures" / "confusion_crossval.png").is_file()
