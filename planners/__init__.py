"""Model-predictive planners over batched imagined rollouts."""
