"""The machine fingerprint: what a benchmark's numbers depend on besides the code.

A fingerprint is a plain JSON object, stored in each new baseline record (its
``machine`` field) and with every run in the history:

``cpu`` (model) and ``cpus`` (logical count), ``gpus`` (models, one per
device), ``gpu_driver`` and ``cuda`` (from ``nvidia-smi``, when it is on
``PATH``; torch is never imported), ``os`` (name and version), ``python``, and
``packages``: numpy and the installed packages the benchmark file (and the
sibling modules it imports) imports, with their versions.

:func:`differences` names what differs between two fingerprints, and
:func:`baseline_warning` turns that into the warning (or, under ``--strict``,
the error) of a run against a baseline made elsewhere. Fields a fingerprint
lacks (an older record, another tool) are not compared.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .session import Job

__all__ = [
    "LABELS",
    "against_baseline",
    "Fingerprint",
    "baseline_warning",
    "differences",
    "fingerprint",
    "machine_id",
    "validate",
]

Fingerprint = dict[str, Any]
"""``{"cpu": str, "cpus": int, "gpus": [str], "gpu_driver": str, "cuda": str, "os": str,
"python": str, "packages": {name: version}}``; every field may be missing."""

LABELS = {
    "cpu": "CPU",
    "cpus": "CPUs",
    "gpus": "GPU",
    "gpu_driver": "GPU driver",
    "cuda": "CUDA",
    "os": "OS",
    "python": "Python",
}
"""The compared fields (besides ``packages``) and how messages name them."""

_NVIDIA_TIMEOUT = 10.0
_NOT_PACKAGES = {"Python", "pybench"}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Hardware", "Processor") and value.strip():
                    return " ".join(value.split())
    except OSError:
        pass
    if sys.platform == "darwin":
        text = _command(["sysctl", "-n", "machdep.cpu.brand_string"])
        if text:
            return text.strip()
    return platform.processor() or platform.machine() or "unknown"


def _os_name() -> str:
    if sys.platform.startswith("linux"):
        for path in ("/etc/os-release", "/usr/lib/os-release"):
            try:
                text = Path(path).read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            found = re.search(r'^PRETTY_NAME="?([^"\n]*)"?$', text, re.MULTILINE)
            if found and found.group(1).strip():
                return found.group(1).strip()
        return "Linux"
    if sys.platform == "darwin":
        return f"macOS {platform.mac_ver()[0]}".strip()
    return f"{platform.system()} {platform.release()}".strip()


def _command(args: list[str]) -> str | None:
    """The standard output of ``args``, or ``None`` if it cannot run or fails."""
    try:
        done = subprocess.run(
            args, capture_output=True, text=True, timeout=_NVIDIA_TIMEOUT, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def parse_nvidia(query: str | None, banner: str | None) -> Fingerprint:
    """The GPU fields from ``nvidia-smi --query-gpu=name,driver_version --format=csv,noheader``
    and from ``nvidia-smi``'s banner (which names the CUDA version)."""
    found: Fingerprint = {}
    rows = [line.split(",") for line in (query or "").splitlines() if line.strip()]
    names = [row[0].strip() for row in rows if row[0].strip()]
    drivers = sorted({row[1].strip() for row in rows if len(row) > 1 and row[1].strip()})
    if names:
        found["gpus"] = names
    if drivers:
        found["gpu_driver"] = ", ".join(drivers)
    cuda = re.search(r"CUDA Version:\s*([0-9][0-9.]*)", banner or "")
    if cuda:
        found["cuda"] = cuda.group(1)
    return found


def _nvidia() -> Fingerprint:
    tool = shutil.which("nvidia-smi")
    if tool is None:
        return {}
    query = _command([tool, "--query-gpu=name,driver_version", "--format=csv,noheader"])
    return parse_nvidia(query, _command([tool]))


@lru_cache(maxsize=1)
def _host() -> tuple[tuple[str, Any], ...]:
    """The fields that do not depend on the benchmark (read once per process)."""
    host: Fingerprint = {
        "cpu": _cpu_model(),
        "cpus": os.cpu_count() or 0,
        **_nvidia(),
        "os": _os_name(),
        "python": platform.python_version(),
    }
    return tuple(host.items())


@lru_cache(maxsize=256)
def _packages(path: Path | None) -> tuple[tuple[str, str], ...]:
    from .bundle import BundleError, pack
    from .versions import NOT_INSTALLED, UNKNOWN, package_versions

    names: tuple[str, ...] = ()
    if path is not None:
        try:
            names = pack(path).imports
        except (BundleError, OSError):
            names = ()
    versions = package_versions(names)
    return tuple(
        sorted(
            (name, version)
            for name, version in versions.items()
            if name not in _NOT_PACKAGES and version not in (NOT_INSTALLED, UNKNOWN)
        )
    )


def fingerprint(bench_path: Path | None = None) -> Fingerprint:
    """This machine's fingerprint, with the packages the benchmark at ``bench_path`` imports
    (numpy only, without a path). Cached per process and file."""
    found = dict(_host())
    found["packages"] = dict(_packages(bench_path))
    return found


def merged(prints: list[Fingerprint]) -> Fingerprint:
    """One fingerprint for a whole run: the host fields of the first, every package seen."""
    if not prints:
        return fingerprint()
    found = {k: v for k, v in prints[0].items() if k != "packages"}
    packages: dict[str, str] = {}
    for one in prints:
        packages.update(one.get("packages") or {})
    found["packages"] = dict(sorted(packages.items()))
    return found


def machine_id(found: Mapping[str, Any]) -> str:
    """A short stable id of a fingerprint (16 hex digits of the SHA-256 of its JSON)."""
    import hashlib

    text = json.dumps(found, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _show(value: Any) -> str:
    if isinstance(value, list):
        return " + ".join(str(v) for v in value) if value else "none"
    return str(value)


def _gpus(side: Mapping[str, Any]) -> list[str] | None:
    """A fingerprint's GPUs: ``[]`` when a full fingerprint lists none, ``None`` if unknown."""
    if "gpus" in side:
        return list(side["gpus"])
    return [] if "cpu" in side else None


def differences(here: Mapping[str, Any], there: Mapping[str, Any]) -> list[str]:
    """What differs, one phrase each: ``GPU: A100 here, H100 in the baseline``.

    Fields missing from either side are not compared (a full fingerprint without
    ``gpus`` has none); the driver and CUDA are compared only when both sides
    have a GPU. A package is compared when both sides list it, and named when
    only the baseline has it.
    """
    found = []
    ours, theirs = _gpus(here), _gpus(there)
    both_gpu = bool(ours) and bool(theirs)
    for key, label in LABELS.items():
        if key == "gpus":
            if ours is not None and theirs is not None and ours != theirs:
                found.append(f"{label}: {_show(ours)} here, {_show(theirs)} in the baseline")
        elif key in here and key in there and here[key] != there[key]:
            if key in ("gpu_driver", "cuda") and not both_gpu:
                continue
            found.append(f"{label}: {_show(here[key])} here, {_show(there[key])} in the baseline")
    mine = here.get("packages") or {}
    recorded = there.get("packages") or {}
    for name in sorted(set(mine) | set(recorded)):
        if name in mine and name in recorded and mine[name] != recorded[name]:
            found.append(f"{name}: {mine[name]} here, {recorded[name]} in the baseline")
        elif name in recorded and name not in mine:
            found.append(f"{name}: not installed here, {recorded[name]} in the baseline")
    return found


def baseline_warning(
    name: str, recorded: Mapping[str, Any] | None, here: Fingerprint
) -> str | None:
    """The warning for a run of benchmark ``name`` here against a baseline made on
    ``recorded`` (``None`` when the baseline names no machine or the machines match)."""
    if not recorded:
        return None
    found = differences(here, recorded)
    if not found:
        return None
    return f"{name}: the baseline was made on another machine ({'; '.join(found)})"


def against_baseline(job: Job) -> str | None:
    """The warning of a job whose baseline was made on another machine, or under
    ``--strict`` the message of its error (``None`` without a baseline, when the
    baseline names no machine, or when it was made on one like this)."""
    if job.baseline is None:
        return None
    here = fingerprint(job.bench.path)
    found = baseline_warning(job.bench.name, job.baseline.machine, here)
    if found is None or not job.strict:
        return found
    return (
        f"--strict: {found}; re-run `{job.update_command} --bench {job.bench.name}` on this "
        "machine, or drop --strict to go on with a warning"
    )


def validate(value: Any) -> str | None:
    """Why ``value`` is not a fingerprint, or ``None`` if it is one (read from files)."""
    if not isinstance(value, dict):
        return "must be an object"
    for key, item in value.items():
        if not isinstance(key, str):
            return "keys must be strings"
        if key == "packages":
            if not isinstance(item, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in item.items()
            ):
                return "'packages' must map names to version strings"
        elif key == "gpus":
            if not isinstance(item, list) or not all(isinstance(g, str) for g in item):
                return "'gpus' must be a list of strings"
        elif key == "cpus":
            if not isinstance(item, int) or isinstance(item, bool) or item < 0:
                return "'cpus' must be a count"
        elif item is not None and not isinstance(item, (str, int, float, bool)):
            return f"field {key!r} must be a string"
    return None
