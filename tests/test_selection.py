"""Model selection's pure logic: criterion, best evaluation, early stopping, results layout."""

import json
import math

import pytest
from ml_collections import ConfigDict

from ferjax.train import selection


def _train_cfg(**select):
    return ConfigDict({"select": select})


def _run(values, criterion):
    """Observes `values` at steps 2, 4, 6, ...; (final state, improved per evaluation)."""
    state = selection.SelectionState()
    improved = []
    for i, v in enumerate(values):
        state, better = selection.observe(state, criterion, 2 * (i + 1),
                                          {criterion.metric: v, "num_examples": 10})
        improved.append(better)
    return state, improved


def test_best_of_a_scripted_sequence_by_mode():
    values = [0.30, 0.55, 0.50, 0.55, 0.70, 0.65]
    state, improved = _run(values, selection.Criterion("accuracy", "max"))
    assert improved == [True, True, False, False, True, False]  # a tie is no improvement
    assert (state.best_step, state.best_value, state.since_best) == (10, 0.70, 1)
    assert state.best_scores == {"accuracy": 0.70, "num_examples": 10}
    assert [s for s, _ in state.history] == [2, 4, 6, 8, 10, 12]
    state, _ = _run(values, selection.Criterion("loss", "min"))
    assert (state.best_step, state.best_value) == (2, 0.30)


def test_nan_never_wins_and_is_stored_as_null():
    c = selection.Criterion("loss", "min")
    state, improved = _run([float("nan"), 2.0, float("nan"), 1.0], c)
    assert improved == [False, True, False, True]
    assert state.best_step == 8
    assert state.history[0][1] is None
    json.dumps(state.to_json(), allow_nan=False)


def test_early_stopping_at_the_patience_th_evaluation_without_gain():
    c = selection.Criterion("accuracy", "max", patience=2)
    state = selection.SelectionState()
    stops = []
    for step, v in zip((2, 4, 6, 8, 10), (0.2, 0.6, 0.5, 0.6, 0.55)):
        state, _ = selection.observe(state, c, step, {"accuracy": v})
        stops.append(selection.should_stop(state, c))
    assert stops == [False, False, False, True, True]
    never = selection.Criterion("accuracy", "max", patience=0)
    assert not selection.should_stop(selection.SelectionState(since_best=100), never)


def test_state_round_trips_through_json():
    state, _ = _run([0.1, 0.4, 0.2], selection.Criterion("accuracy", "max", 3))
    text = json.dumps(state.to_json(), allow_nan=False)
    assert selection.SelectionState.from_json(json.loads(text)) == state
    assert selection.SelectionState.from_json(None) == selection.SelectionState()
    cleared = state.without_best()
    assert cleared.best_step is None and cleared.history == state.history
    assert selection.observe(cleared, selection.Criterion(), 8, {"accuracy": 0.0})[1]


def test_criterion_from_config_and_its_errors():
    assert selection.criterion(ConfigDict({})) == selection.Criterion("accuracy", "max", 0)
    assert selection.criterion(_train_cfg(metric="loss/landmark_nme", mode="min", patience=3)) \
        == selection.Criterion("loss/landmark_nme", "min", 3)
    with pytest.raises(ValueError, match=r"config.train.select.mode='lowest'.*\('max', 'min'\)"):
        selection.criterion(_train_cfg(mode="lowest"))
    with pytest.raises(ValueError, match="config.train.select.patience=-1"):
        selection.criterion(_train_cfg(patience=-1))
    with pytest.raises(ValueError, match=r"unknown fields \['metrc'\]"):
        selection.criterion(_train_cfg(metrc="accuracy"))


def test_unknown_metric_is_named_with_the_available_ones():
    available = selection.available_metrics(["emotion_ce", "landmark_nme"])
    assert available == ("accuracy", "macro_precision", "macro_recall", "macro_f1", "loss",
                         "loss/emotion_ce", "loss/landmark_nme")
    with pytest.raises(selection.UnknownMetricError) as e:
        selection.check_metric(selection.Criterion("nme"), available)
    assert str(e.value) == (
        "config.train.select.metric='nme' is not computed by this run's evaluation; available: "
        "['accuracy', 'loss', 'loss/emotion_ce', 'loss/landmark_nme', 'macro_f1', "
        "'macro_precision', 'macro_recall']")
    # At an evaluation, the scalars it has are the available ones.
    with pytest.raises(selection.UnknownMetricError, match=r"available: \['accuracy', 'loss'\]"):
        selection.observe(selection.SelectionState(), selection.Criterion("nme"), 2,
                          {"accuracy": 0.5, "loss": 1.0, "confusion": [[1]]})


def test_eval_interval():
    assert selection.eval_interval(5, 40, selecting=True) == 5
    assert selection.eval_interval(-1, 40, selecting=False) == 40
    assert selection.eval_interval(0, 40, selecting=True) == 40
    assert selection.eval_interval(0, 40, selecting=False) == 0
    with pytest.raises(ValueError, match="config.train.eval_every=-2"):
        selection.eval_interval(-2, 40, selecting=True)


def test_results_layout_is_strict_json():
    c = selection.Criterion("macro_f1", "max", 2)
    state, _ = _run([0.2, float("nan"), 0.5, 0.4], c)
    at_best = {"accuracy": 0.61, "macro_f1": 0.5, "step": 0}
    at_last = {"accuracy": 0.58, "macro_f1": 0.45}
    r = selection.results(at_best, at_last, state, c, last_step=8, validation="validation",
                          stopped_early=False)
    assert r["accuracy"] == 0.61 and r["step"] == 6
    assert r["last"] == {"accuracy": 0.58, "macro_f1": 0.45, "step": 8}
    assert r["selection"]["best_step"] == 6 and r["selection"]["best_value"] == 0.5
    assert r["selection"]["evaluations"] == [[2, 0.2], [4, None], [6, 0.5], [8, 0.4]]
    json.loads(json.dumps(r, allow_nan=False))
    assert not any(isinstance(v, float) and math.isnan(v) for v in r["selection"].values())
