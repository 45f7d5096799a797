"""What pybench keeps on disk: the baseline file and the journals of running benchmarks."""
