"""Judging: the verdict of a comparison, and the looks of an adaptive one (pure functions)."""
