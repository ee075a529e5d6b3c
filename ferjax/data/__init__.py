"""Input: dataset builders, the grain pipeline, augmentation and splits."""
