"""The machine fingerprint, in baseline records, and the warning of a baseline made elsewhere."""

from __future__ import annotations

import json
import os
import platform
import stat
from pathlib import Path

import pytest

from pybench.core.machine import baseline_warning, differences, validate
from pybench.execution import machine
from pybench.storage import store

SMI_QUERY = "NVIDIA A100-SXM4-80GB, 535.104.05\nNVIDIA A100-SXM4-80GB, 535.104.05\n"
SMI_BANNER = """
+---------------------------------------------------------------------------------------+
| NVIDIA-SMI 535.104.05             Driver Version: 535.104.05   CUDA Version: 12.2     |
|-----------------------------------------+----------------------+----------------------+
"""

BENCH = """
    import json
    import numpy as np

    def bench_model(seed, *, n_seeds=6):
        return {"accuracy": 0.8 + (seed % 7) / 100}
"""


@pytest.fixture
def fresh_fingerprint():
    machine._host.cache_clear()
    machine._packages.cache_clear()
    yield
    machine._host.cache_clear()
    machine._packages.cache_clear()


def test_nvidia_smi_output_is_read():
    found = machine.parse_nvidia(SMI_QUERY, SMI_BANNER)
    assert found == {
        "gpus": ["NVIDIA A100-SXM4-80GB", "NVIDIA A100-SXM4-80GB"],
        "gpu_driver": "535.104.05",
        "cuda": "12.2",
    }
    assert machine.parse_nvidia(None, None) == {}


def test_the_fingerprint_names_this_machine_and_the_benchmark_imports(
    tmp_path, fresh_fingerprint, monkeypatch
):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no nvidia-smi
    bench = tmp_path / "bench_x.py"
    bench.write_text("import json\nimport numpy\nimport helper\n")
    (tmp_path / "helper.py").write_text("import os\n")
    found = machine.fingerprint(bench)
    assert found["cpus"] == os.cpu_count() and found["cpu"]
    assert found["python"] == platform.python_version() and found["os"]
    assert "gpus" not in found
    assert list(found["packages"]) == ["numpy"]  # no stdlib, no sibling module, no pybench
    assert validate(found) is None
    assert json.loads(json.dumps(found)) == found


def test_gpus_come_from_nvidia_smi_when_it_is_there(tmp_path, fresh_fingerprint, monkeypatch):
    tool = tmp_path / "nvidia-smi"
    banner = f"cat <<'EOF'\n{SMI_BANNER}\nEOF\n"
    query = f"printf '%s' '{SMI_QUERY}'"
    tool.write_text(f"#!/bin/sh\nif [ -n \"$1\" ]; then {query}; else {banner}fi\n")
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    found = machine.fingerprint()
    assert found["gpus"] == ["NVIDIA A100-SXM4-80GB"] * 2
    assert (found["gpu_driver"], found["cuda"]) == ("535.104.05", "12.2")


def test_differences_name_what_differs():
    here = {"cpu": "X", "cpus": 8, "gpus": ["A100"], "cuda": "12.2", "packages": {"torch": "2.3"}}
    there = {"cpu": "X", "cpus": 8, "gpus": ["H100"], "cuda": "12.4", "packages": {"torch": "2.1"}}
    assert differences(here, there) == [
        "GPU: A100 here, H100 in the baseline",
        "CUDA: 12.2 here, 12.4 in the baseline",
        "torch: 2.3 here, 2.1 in the baseline",
    ]
    cpu_only = {"cpu": "X", "cpus": 8, "packages": {}}
    assert differences(cpu_only, there)[:1] == ["GPU: none here, H100 in the baseline"]
    assert differences(here, here) == []
    assert differences(here, {"python": "3.11"}) == []  # nothing comparable
    assert baseline_warning("bench_x", None, here) is None


def test_records_keep_the_machine_and_old_records_still_load(tmp_path):
    record = store.BaselineRecord("bench_a", [1, 2], {0: {"m": [0.5, 0.6]}})
    assert "machine" not in json.loads(record.to_json())
    path = tmp_path / "b.jsonl"
    store.save(path, [record])
    assert store.load(path)["bench_a"].machine is None
    record.machine = {"cpu": "X", "cpus": 2, "gpus": ["H100"], "packages": {"numpy": "2.0"}}
    store.save(path, [record])
    assert store.load(path)["bench_a"].machine == record.machine


@pytest.mark.parametrize(
    "bad", [[], {"gpus": "H100"}, {"packages": {"numpy": 2}}, {"cpus": -1}, {"os": {"a": 1}}]
)
def test_a_bad_machine_field_is_an_error_naming_the_line(tmp_path, bad):
    line = {"bench": "bench_a", "seeds": [1, 2], "scores": {"0": {"m": [1, 2]}}, "machine": bad}
    path = tmp_path / "b.jsonl"
    path.write_text(json.dumps(line) + "\n")
    with pytest.raises(store.StoreError, match=r"b\.jsonl:1: bench_a: field 'machine'"):
        store.load(path)


def _move_baseline_to_another_machine(project: Path) -> None:
    path = project / ".pybench" / "baselines.jsonl"
    record = json.loads(path.read_text())
    assert record["machine"]["cpus"] == os.cpu_count()
    record["machine"]["gpus"] = ["NVIDIA H100 80GB HBM3"]
    path.write_text(json.dumps(record) + "\n")


def test_a_baseline_from_another_machine_warns(project, write_bench, cli):
    write_bench(BENCH)
    assert cli("benchmarks", "--seed", "1", "--no-history").exit_code == 0
    _move_baseline_to_another_machine(project)
    result = cli("benchmarks", "--json", "run.json", "--no-history")
    assert result.exit_code == 0
    expected = (
        "bench_model: the baseline was made on another machine "
        "(GPU: none here, NVIDIA H100 80GB HBM3 in the baseline)"
    )
    assert expected in result.stderr and expected not in result.stdout
    [bench] = json.loads((project / "run.json").read_text())["benchmarks"]
    assert bench["status"] == "PASS" and bench["warnings"] == [expected]


def test_strict_makes_another_machine_an_error(project, write_bench, cli):
    write_bench(BENCH)
    assert cli("benchmarks", "--seed", "1", "--no-history").exit_code == 0
    _move_baseline_to_another_machine(project)
    result = cli("benchmarks", "--strict", "--no-history")
    assert result.exit_code == 2
    assert "ERROR" in result.stdout
    assert "--strict: bench_model: the baseline was made on another machine" in result.output
