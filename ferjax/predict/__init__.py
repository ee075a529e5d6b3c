"""Prediction on photos and videos with a trained run: spec (InputSpec, preprocess.json),
predictor (Predictor), inputs, records, annotate, and `python -m ferjax.predict`.

`ferjax.predict.Predictor` is `ferjax.predict.predictor.Predictor`, imported on first use so
that reading a spec or the records does not load the model stack.
"""


def __getattr__(name):
    if name == "Predictor":
        from ferjax.predict.predictor import Predictor

        return Predictor
    raise AttributeError(f"module 'ferjax.predict' has no attribute {name!r}")
