"""Reading this machine's fingerprint (see :mod:`pybench.core.machine` for what it holds)."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..core.machine import Fingerprint

__all__ = ["fingerprint", "merged", "parse_nvidia"]

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
