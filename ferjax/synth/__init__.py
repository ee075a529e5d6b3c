"""FERSynth: procedural expressive faces rendered from FACS action units, with ground truth.

Public API:
  AU_NAMES, EMOTION_AUS             AU order (= au_regions bit) and each class's AU combination
  SynthConfig, preset(name, **kw)   renderer configuration ('front', 'pose', 'wild', 'composite')
  WILD_HARD                         overrides that turn 'wild' into the 1.1.0 (hard) regime
  render_example(config, seed, i)   one record (docs/architecture.md), deterministic
  FERSynthSource(config, seed, n)   grain RandomAccessDataSource rendering on the fly
  au_region_mask(regions, aus, hw)  decode au_regions into a bool (H, W) pixel mask
  render_controlled(config, seed, subject, Expression(right, left))  chosen-AU stimuli
  compose_group(config, seed, n)    a group photo of n faces on a background, with face boxes
"""

from ferjax.synth.aus import AU_DESCRIPTIONS, AU_NAMES, EMOTION_AUS, NUM_AUS, au_index
from ferjax.synth.backgrounds import render_background
from ferjax.synth.config import PRESET_NAMES, WILD_HARD, SynthConfig, preset
from ferjax.synth.example import example_key, render_controlled, render_example, render_subject_example
from ferjax.synth.expression import Expression, neutral_expression
from ferjax.synth.group import compose_group
from ferjax.synth.regions import au_region_mask
from ferjax.synth.source import FERSynthSource
from ferjax.synth.splits import SPLITS, split_subjects, subject_fold

__all__ = [
    "AU_DESCRIPTIONS", "AU_NAMES", "EMOTION_AUS", "NUM_AUS", "au_index", "render_background",
    "PRESET_NAMES", "WILD_HARD", "SynthConfig", "preset", "example_key", "render_controlled",
    "render_example", "render_subject_example", "compose_group", "Expression", "neutral_expression",
    "au_region_mask", "FERSynthSource", "SPLITS",
    "split_subjects", "subject_fold",
]
