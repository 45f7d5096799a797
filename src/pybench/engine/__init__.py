"""The engine: plan jobs over code sources, run them in one loop, build their outcomes."""
