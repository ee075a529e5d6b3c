"""Training: state, optimisers and schedules, jitted steps, checkpoints, metric writers, loop."""
