"""Prediction on photos and videos with a trained run: spec (InputSpec, preprocess.json),
predictor (Predictor), inputs, records, annotate, and `python -m ferjax.predict`."""
