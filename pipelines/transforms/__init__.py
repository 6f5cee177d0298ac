"""Beam transforms of the newswatch pipeline, one concern each, over typed elements."""
