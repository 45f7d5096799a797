"""Settings: the per-benchmark configuration, stated once and resolved once.

A benchmark declares its defaults as keyword-only arguments of its function
(``def bench_x(seed, *, n_seeds=50, alpha=0.01)``); command-line flags override
them for one run. :func:`resolve` applies the overrides and returns the frozen
:class:`Settings` that everything downstream reads.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import PybenchError

__all__ = ["KEYWORDS", "Settings", "SettingsError", "check", "env_name_problem", "resolve"]


class SettingsError(PybenchError):
    """A configuration value that cannot be used."""


@dataclass(frozen=True)
class Settings:
    """How one benchmark is run and judged; the field defaults are pybench's defaults."""

    n_seeds: int = 30
    """Seeds sampled for a new baseline."""
    alpha: float = 0.05
    """Significance level of each slot's test and of the verdict."""
    min_effect: float | None = None
    """A slot is flagged only if its relative drop exceeds this (``None``: no gate)."""
    workers: int = 1
    """Local worker processes that run seeds."""
    gpus: tuple[int, ...] | None = None
    """One worker per listed GPU (``None``: no pinning)."""
    env: tuple[str, ...] = ()
    """Environment variables set for each seed's call in a worker as they are here
    (every ``PYBENCH_*`` one travels without being named)."""
    adaptive: bool = False
    """A comparison runs its stored seeds in stages and stops as soon as the verdict
    is clear (:mod:`pybench.adaptive`); new baselines and ``update`` run every seed."""
    timeout: float | None = None
    """Seconds one seed may run before it is stopped and the benchmark is an ERROR
    (``None``: no limit). Seeds then run in a worker process, which can be killed."""
    check_determinism: bool = True
    """When a baseline is made, run its first seed a second time and warn if any value differs."""
    rtol: float = 1e-12
    """Differences within ``rtol`` times a slot's largest value are ties (rounding, no change)."""


KEYWORDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Settings))
"""The keyword arguments of a ``bench_*`` function that pybench reads as settings."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def env_name_problem(name: Any) -> str | None:
    """Why ``name`` cannot be forwarded as an environment variable (``None`` if it can)."""
    if not isinstance(name, str) or not name:
        return "must be a non-empty variable name"
    if "=" in name:
        return "must be a variable name, not an assignment (set the value in the shell)"
    if "\0" in name or any(c.isspace() for c in name):
        return "is not a valid environment variable name"
    return None


def _check_env(name: str, env: Any) -> tuple[str, ...]:
    if isinstance(env, (str, bytes)) or not hasattr(env, "__iter__"):
        raise SettingsError(
            f"{name}: env={env!r} must be a list of variable names, e.g. ['MODEL_VARIANT']"
        )
    names = tuple(env)
    for var in names:
        problem = env_name_problem(var)
        if problem is not None:
            raise SettingsError(f"{name}: env entry {var!r} {problem}")
    return tuple(dict.fromkeys(names))


def check(name: str, values: Mapping[str, Any]) -> Settings:
    """Validate configuration ``values`` (a subset of :data:`KEYWORDS`) over the defaults.

    Raises:
        SettingsError: naming the benchmark and the keyword when a value is invalid.
    """
    merged = {**dataclasses.asdict(Settings()), **values}
    n_seeds, alpha = merged["n_seeds"], merged["alpha"]
    min_effect, workers, gpus = merged["min_effect"], merged["workers"], merged["gpus"]
    adaptive = merged["adaptive"]
    timeout, check_determinism = merged["timeout"], merged["check_determinism"]
    if not _is_int(n_seeds) or n_seeds < 2:
        raise SettingsError(f"{name}: n_seeds={n_seeds!r} must be an int >= 2")
    if not _is_number(alpha) or not 0.0 < float(alpha) <= 0.5:
        raise SettingsError(f"{name}: alpha={alpha!r} must be a number in (0, 0.5]")
    if not _is_number(merged["rtol"]) or not 0.0 <= float(merged["rtol"]) <= 0.1:
        raise SettingsError(f"{name}: rtol={merged['rtol']!r} must be a number in [0, 0.1]")
    if min_effect is not None and (
        not _is_number(min_effect) or not math.isfinite(min_effect) or min_effect < 0
    ):
        raise SettingsError(f"{name}: min_effect={min_effect!r} must be None or a number >= 0")
    if not _is_int(workers) or workers < 1:
        raise SettingsError(f"{name}: workers={workers!r} must be an int >= 1")
    if gpus is not None:
        if isinstance(gpus, (str, bytes)) or not hasattr(gpus, "__iter__"):
            raise SettingsError(f"{name}: gpus={gpus!r} must be a list of GPU indices, e.g. [0, 1]")
        gpus = tuple(gpus)
        if not gpus or not all(_is_int(g) and g >= 0 for g in gpus):
            raise SettingsError(f"{name}: gpus={gpus!r} must be a non-empty list of ints >= 0")
    if not isinstance(adaptive, bool):
        raise SettingsError(f"{name}: adaptive={adaptive!r} must be True or False")
    if timeout is not None and (
        not _is_number(timeout) or not math.isfinite(timeout) or timeout <= 0
    ):
        raise SettingsError(f"{name}: timeout={timeout!r} must be None or a number of seconds > 0")
    if not isinstance(check_determinism, bool):
        raise SettingsError(
            f"{name}: check_determinism={check_determinism!r} must be True or False"
        )
    return Settings(
        n_seeds=n_seeds,
        alpha=float(alpha),
        min_effect=None if min_effect is None else float(min_effect),
        workers=workers,
        gpus=gpus,
        env=_check_env(name, merged["env"]),
        adaptive=adaptive,
        timeout=None if timeout is None else float(timeout),
        check_determinism=check_determinism,
        rtol=float(merged["rtol"]),
    )


def resolve(defaults: Settings, overrides: Mapping[str, Any]) -> Settings:
    """``defaults`` with every override that is not ``None`` applied (CLI flags win).

    ``env`` is the exception: the variables named on the command line are
    forwarded in addition to those the benchmark names.
    """
    given = {key: value for key, value in overrides.items() if value is not None}
    unknown = set(given) - set(KEYWORDS)
    if unknown:
        raise ValueError(f"unknown settings: {sorted(unknown)}")
    if "env" in given:
        env = tuple(dict.fromkeys([*defaults.env, *given["env"]]))
        if env == defaults.env:
            del given["env"]
        else:
            given["env"] = env
    return dataclasses.replace(defaults, **given) if given else defaults
