"""Linking records of the same person across registries and years (issue 4)."""
