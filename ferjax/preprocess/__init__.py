"""Face preprocessing: MTCNN detection, similarity alignment, illumination normalisation, masks.

Builders use `FacePreprocessor(PreprocessConfig(...))` from `ferjax.preprocess.pipeline`.
"""
