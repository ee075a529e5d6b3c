import json

import numpy as np
import pytest
from toy import toy_config

from ferjax.runs import kfold


def test_summary_is_mean_and_population_std_with_summed_confusion():
    folds = [{"accuracy": 0.5, "macro_f1": 0.4, "confusion": [[1, 1], [0, 2]],
              "class_names": ["a", "b"]},
             {"accuracy": 1.0, "macro_f1": 1.0, "confusion": [[2, 0], [0, 2]],
              "class_names": ["a", "b"]}]
    s = kfold.summarise(folds)
    assert s["accuracy_mean"] == pytest.approx(0.75)
    assert s["accuracy_std"] == pytest.approx(0.25)      # population std, as papers report
    assert s["macro_f1_mean"] == pytest.approx(0.7)
    assert s["confusion"] == [[3, 1], [0, 4]]


def test_kfold_run_trains_each_fold_on_the_other_subjects(tmp_path):
    config = toy_config(steps=2, batch=8)
    config.protocol = "kfold"
    config.data.num_folds = 2
    config.data.cv_split = "train"
    config.evals.figures = {"type": "figures"}
    run = kfold.run(config, tmp_path)
    summary = run.summary
    assert summary["num_folds"] == 2 and len(run.models) == 2
    assert [m.config.data.fold for m in run.models] == [0, 1]
    assert [m.config.seed for m in run.models] == [config.seed, config.seed + 1]
    assert set(run.evals) == {0, 1} and set(run.evals[1]) == {"classification", "figures"}
    for k in range(2):  # every fold's evaluators write into its own directory
        assert (tmp_path / f"fold{k}" / "figures" / "confusion.png").is_file()
    sizes = [json.loads((tmp_path / f"fold{k}" / "results.json").read_text())["num_examples"]
             for k in range(2)]
    folds = np.array([int(r["fold"]) % 2 for r in config.data.records["train"].records])
    assert sizes == [int(np.sum(folds == 0)), int(np.sum(folds == 1))]
    saved = json.loads((tmp_path / "crossval.json").read_text())
    assert saved["fold_accuracy"] == summary["fold_accuracy"]
    assert np.sum(saved["confusion"]) == sum(sizes)
    assert (tmp_path / "figures" / "confusion_crossval.png").is_file()


def test_subjects_per_fold_holds_out_groups_of_subjects_sorted_by_id():
    from ferjax.data import pipeline, splits

    config = toy_config()
    config.data.cv_split = "train"
    config.data.subjects_per_fold = 4          # 10 toy subjects: groups 0-3, 4-7, 8-9
    assert splits.num_cv_folds(config.data) == 3
    subjects = {int(r["subject_id"]) for r in config.data.records["train"].records}
    held_out = []
    for fold in range(3):
        config.data.fold = fold
        data = pipeline.build_data(config.data, seed=0)
        test = {int(data.eval[i]["subject_id"]) for i in range(len(data.eval))}
        train = {int(data.train[i]["subject_id"]) for i in range(len(data.train))}
        assert not test & train and test | train == subjects
        held_out.append(sorted(test))
    assert held_out == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    config.data.fold = 3
    with pytest.raises(ValueError, match="config.data.fold=3 must be < the number of folds, 3"):
        pipeline.build_data(config.data, seed=0)
    config.data.subjects_per_fold = -1
    with pytest.raises(ValueError, match="config.data.subjects_per_fold=-1"):
        pipeline.build_data(config.data, seed=0)


def test_feratt_cv_is_leave_ten_subjects_out():
    from ferjax.configs import feratt

    config = feratt.get_config("cv")
    assert config.protocol == "kfold" and config.data.subjects_per_fold == 10
