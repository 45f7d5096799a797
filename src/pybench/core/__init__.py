"""Core types every layer shares: settings, benchmarks, seeds' results, provenance, errors.

Nothing here runs a benchmark, reads a file or calls git.
"""
