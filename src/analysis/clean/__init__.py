"""Cleaning: messy registry extracts in, trustworthy tables out, nothing lost (issue 3)."""
