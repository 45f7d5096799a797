"""Versions: looking them up without importing, and naming each difference."""

from __future__ import annotations

import importlib.metadata
import platform
import sys

from pybench.execution.versions import NOT_INSTALLED, VersionMismatch, mismatches, package_versions


def test_versions_come_from_the_distribution_behind_each_import_name():
    found = package_versions(["yaml", "numpy", "no_such_package_here"])
    assert list(found) == ["Python", "numpy", "pybench", "yaml", "no_such_package_here"]
    assert found["Python"] == platform.python_version()
    assert found["numpy"] == importlib.metadata.version("numpy")
    assert found["pybench"] == importlib.metadata.version("pybench")
    assert found["yaml"] == importlib.metadata.version("PyYAML")  # import name ≠ distribution
    assert found["no_such_package_here"] == NOT_INSTALLED
    assert "no_such_package_here" not in sys.modules


def test_mismatches_name_package_worker_and_both_versions_in_a_stable_order():
    client = {"Python": "3.11.7", "numpy": "2.1.0", "pybench": "0.1.0", "torch": "2.4.0"}
    workers = {
        "tcp://10.0.0.9:4000": {**client, "torch": NOT_INSTALLED, "numpy": "1.26.4"},
        "tcp://10.0.0.2:4000": {**client, "torch": "2.3.1"},
        "tcp://10.0.0.5:4000": dict(client),
        "tcp://10.0.0.7:4000": {"Python": "3.11.7"},  # asked for less: nothing to compare
    }
    found = mismatches(client, workers)
    assert found == [
        VersionMismatch("numpy", "tcp://10.0.0.9:4000", "2.1.0", "1.26.4"),
        VersionMismatch("torch", "tcp://10.0.0.2:4000", "2.4.0", "2.3.1"),
        VersionMismatch("torch", "tcp://10.0.0.9:4000", "2.4.0", NOT_INSTALLED),
    ]
    assert str(found[2]) == "torch is 2.4.0 here but not installed on worker tcp://10.0.0.9:4000"
    assert mismatches(client, {}) == []
