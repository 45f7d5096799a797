"""Execution: calling a benchmark on a seed, capturing it, and the back-ends that run seeds."""
