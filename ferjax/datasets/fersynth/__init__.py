"""FERSynth TFDS builder (rendered procedurally by ferjax.synth; nothing is downloaded)."""
