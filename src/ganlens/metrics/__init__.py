"""Image-quality, coverage and disentanglement metrics."""
