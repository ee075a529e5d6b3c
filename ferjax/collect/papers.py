"""The papers' own numbers, each with the table and row it comes from (papers/ text).

Values are as printed: accuracy in percent (Sun, Jalal, FERAtt: mean, std or None), fractions
for EmotionalDAN. Rows are in the papers' order.
"""

from __future__ import annotations

# Sun et al. 2018, Table 5 "The accuracies of the classifiers" (validation accuracy, %, 5-fold
# CV on RaFD; SFEW validation). (dataset, method) -> (mean, std or None).
SUN_TABLE5 = {
    ("RAFD-FRONT", "The baseline CNN"): (97.3, 1.2),
    ("RAFD-FRONT", "The CNN with Visual Attention (use Eq. (4))"): (95.2, 2.0),
    ("RAFD-FRONT", "The CNN with Visual Attention (use Eq. (5))"): (94.8, 0.8),
    ("RAFD-FRONT", "The CNN with global average pooling"): (96.3, 1.7),
    ("RAFD-FRONT", "LBP+SVM"): (86.5, None),
    ("RAFD-FRONT", "Gabor+SVM"): (83.1, None),
    ("RAFD-FRONT", "LPQ+SVM"): (84.8, None),
    ("RAFD-FRONT", "DS+SVM"): (79.0, None),
    ("RAFD-FRONT", "LBP+FE-GEM+SVM (external 3-D data)"): (94.5, None),
    ("RAFD-FRONT", "Gabor+FE-GEM+SVM (external 3-D data)"): (98.1, None),
    ("RAFD-FRONT", "LPQ+FE-GEM+SVM (external 3-D data)"): (94.4, None),
    ("RAFD-FRONT", "DS+FE-GEM+SVM (external 3-D data)"): (90.8, None),
    ("RAFD-POSE", "The baseline CNN"): (87.2, 2.8),
    ("RAFD-POSE", "The CNN with Visual Attention (use Eq. (4))"): (93.1, 0.6),
    ("RAFD-POSE", "The CNN with global average pooling"): (92.8, 1.7),
    ("RAFD-POSE", "Human recognition rate"): (82.0, None),
    ("SFEW", "The baseline CNN"): (38.5, None),
    ("SFEW", "The CNN with Visual Attention (use Eq. (4))"): (40.0, None),
    ("SFEW", "The CNN with global average pooling"): (32.8, None),
    ("SFEW", "The baseline CNN (trained with FER-2013)"): (46.3, None),
    ("SFEW", "The CNN with Visual Attention (use Eq. (4)) (trained with FER-2013)"): (48.3, None),
    ("SFEW", "The CNN with global average pooling (trained with FER-2013)"): (42.8, None),
    ("SFEW", "Kim's CNN"): (52.5, None),
    ("SFEW", "Levi's LBP+CNN"): (44.7, None),
    ("SFEW", "PHOG+LPQ+SVM"): (36.0, None),
}

# Jalal et al. 2019, Table I "Test Accuracy on AffectNet validation set" (%). The extracted
# text also holds an unlabelled "38.0" line under "(AlexNet)"; it is left out.
JALAL_TABLE1 = {
    "Baseline (AlexNet)": (58.0, None),
    "Proposed Network": (93.8, None),
}

# EmotionalDAN, Tables 2 (7 classes) and 3 (3 classes): cross-database accuracy (fraction),
# trained on AffectNet. model -> {test set: accuracy}.
EMOTIONAL_DAN_TABLE2 = {
    "CNN (2)": {"CK+": 0.628, "JAFFE": 0.484, "ISED": 0.516},
    "CNN (5)": {"CK+": 0.728, "JAFFE": 0.502, "ISED": 0.593},
    "Inception-V3": {"CK+": 0.304, "JAFFE": 0.268, "ISED": 0.479},
    "EmotionNet 2": {"CK+": 0.204, "JAFFE": 0.249, "ISED": 0.21},
    "EmotionalDAN": {"CK+": 0.736, "JAFFE": 0.465, "ISED": 0.62},
}
EMOTIONAL_DAN_TABLE3 = {
    "CNN (2)": {"CK+": 0.819, "JAFFE": 0.525, "ISED": 0.814},
    "CNN (5)": {"CK+": 0.92, "JAFFE": 0.765, "ISED": 0.867},
    "Inception-V3": {"CK+": 0.582, "JAFFE": 0.536, "ISED": 0.673},
    "EmotionNet 2": {"CK+": 0.478, "JAFFE": 0.497, "ISED": 0.587},
    "EmotionalDAN": {"CK+": 0.921, "JAFFE": 0.634, "ISED": 0.896},
}
# Table 5: overlap of the top-k Grad-CAM landmarks with the AU landmark sets, per layer.
EMOTIONAL_DAN_TABLE5 = {
    "conv4a": {"happiness": 0.375, "sadness": 0.455, "surprise": 0.522, "fear": 0.633,
               "disgust": 0.214, "anger": 0.647, "average": 0.474},
    "conv4b": {"happiness": 0.312, "sadness": 0.409, "surprise": 0.478, "fear": 0.6,
               "disgust": 0.429, "anger": 0.559, "average": 0.464},
}

# FERAtt, Tables 1-4: leave-10-subjects-out mean ± std (%) of Acc., Prec., Rec., F1.
_FERATT_METRICS = ("accuracy", "macro_precision", "macro_recall", "macro_f1")


def _feratt(*rows):
    names = ("PreActResNet18", "FERAtt+Cls", "FERAtt+Rep+Cls")
    return {n: dict(zip(_FERATT_METRICS, r)) for n, r in zip(names, rows)}


FERATT_TABLES = {
    "Table 1. Synthetic BU-3DFE, seven expressions": _feratt(
        ((69.37, 2.84), (71.48, 1.46), (69.56, 2.76), (70.50, 2.05)),
        ((75.15, 3.13), (77.34, 1.40), (75.45, 2.57), (76.38, 1.98)),
        ((77.90, 2.59), (79.58, 1.77), (78.05, 2.34), (78.81, 2.01))),
    "Table 2. Real BU-3DFE, seven expressions": _feratt(
        ((75.22, 4.60), (77.58, 3.72), (75.49, 4.68), (76.52, 4.19)),
        ((80.41, 4.33), (82.30, 2.99), (80.79, 3.75), (81.54, 3.38)),
        ((82.11, 4.39), (83.72, 3.09), (82.42, 4.08), (83.06, 3.59))),
    "Table 3. Synthetic CK+, eight expressions": _feratt(
        ((77.63, 2.11), (68.42, 2.97), (68.56, 1.91), (68.49, 2.43)),
        ((84.60, 0.93), (74.94, 0.38), (76.30, 1.19), (75.61, 0.76)),
        ((85.15, 1.07), (74.68, 1.37), (77.45, 0.55), (76.04, 0.97))),
    "Table 4. Real CK+, eight expressions": _feratt(
        ((86.67, 3.15), (81.62, 7.76), (80.15, 9.50), (80.87, 8.63)),
        ((85.42, 2.89), (75.65, 2.77), (78.79, 2.30), (77.18, 2.55)),
        ((90.30, 1.36), (83.64, 5.28), (84.90, 8.52), (84.25, 6.85))),
}


def format_paper(value: tuple[float, float | None] | None, digits: int = 1) -> str:
    """(97.3, 1.2) -> '97.3 ± 1.2' (digits after the point, as the paper prints); None -> '—'."""
    if value is None:
        return "—"
    mean, std = value
    return f"{mean:.{digits}f}" + ("" if std is None else f" ± {std:.{digits}f}")
