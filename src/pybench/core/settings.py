"""Settings: the per-benchmark configuration and the run's options, declared once.

A benchmark declares its defaults as keyword-only arguments of its function
(``def bench_x(seed, *, n_seeds=50, alpha=0.01)``); command-line flags override
them for one run. :func:`resolve` applies the overrides and returns the frozen
:class:`Settings` that everything downstream reads.

:data:`TABLE` is the one declaration of every setting and option: its name,
flag, environment variable, help, accepted values and default. The command
line (click) and the pytest plugin (``--pybench-*``) both render their options
from it, and :func:`check` validates a benchmark's keywords with the same rows.
Adding a setting is one :class:`Setting` row (plus its :class:`Settings` field
for a keyword).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import PybenchError

__all__ = [
    "KEYWORDS",
    "TABLE",
    "Accepts",
    "Setting",
    "Settings",
    "SettingsError",
    "check",
    "env_name_problem",
    "resolve",
    "row",
]


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
    is clear (:mod:`pybench.judging.adaptive`); new baselines and ``update`` run every seed."""
    timeout: float | None = None
    """Seconds one seed may run before it is stopped and the benchmark is an ERROR
    (``None``: no limit). Seeds then run in a worker process, which can be killed."""
    check_determinism: bool = True
    """When a baseline is made, run its first seed a second time and warn if any value differs."""
    rtol: float = 1e-12
    """Differences within ``rtol`` times a slot's largest value are ties (rounding, no change)."""
    equivalence: float | None = None
    """A non-inferiority margin: PASS only if the run rules out a relative drop larger than
    this in every slot at once (``None``: no such gate)."""


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


def _gpus_from_text(text: str) -> tuple[int, ...]:
    try:
        gpus = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        gpus = ()
    if not gpus or any(g < 0 for g in gpus):
        raise ValueError
    return gpus


def _check_gpus(gpus: Any) -> tuple[int, ...]:
    if isinstance(gpus, (str, bytes)) or not hasattr(gpus, "__iter__"):
        raise ValueError("must be a list of GPU indices, e.g. [0, 1]")
    listed: tuple[int, ...] = tuple(gpus)
    if not listed or not all(_is_int(g) and g >= 0 for g in listed):
        raise ValueError("must be a non-empty list of ints >= 0")
    return listed


@dataclass(frozen=True)
class Accepts:
    """The values a setting accepts, from a benchmark's keyword or from text on a command line.

    ``kind`` is ``int``, ``float``, ``bool``, ``gpus``, ``names`` (repeatable
    variable names), ``text``, ``path`` or ``choice``.
    """

    kind: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    optional: bool = False
    """``None`` is a valid keyword value."""
    choices: tuple[str, ...] = ()
    words: str = ""
    """How messages say what is expected, when the range alone does not say it well."""

    @property
    def expect(self) -> str:
        """``an int >= 2``, ``a number in (0, 0.5]``: what is expected, for messages."""
        if self.words:
            return self.words
        if self.kind == "bool":
            return "True or False"
        noun = "an int" if self.kind == "int" else "a number"
        if self.low is not None and self.high is not None:
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            return f"{noun} in {left}{self.low:g}, {self.high:g}{right}"
        if self.low is not None:
            return f"{noun} {'>' if self.low_open else '>='} {self.low:g}"
        return noun

    def _in_range(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return not (
            self.high is not None and (value > self.high or (self.high_open and value == self.high))
        )

    def check(self, value: Any) -> Any:
        """``value`` as the setting holds it.

        Raises:
            ValueError: with what is expected (``must be an int >= 2``).
        """
        if value is None and self.optional:
            return None
        wrong = ValueError(f"must be {'None or ' if self.optional else ''}{self.expect}")
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise wrong
            return value
        if self.kind == "gpus":
            return _check_gpus(value)
        if self.kind in ("int", "float"):
            number = _is_int(value) if self.kind == "int" else _is_number(value)
            if not number or not self._in_range(float(value)):
                raise wrong
            return value if self.kind == "int" else float(value)
        return value

    def parse(self, text: str) -> Any:
        """The value of ``text`` given on a command line or in an environment variable.

        Raises:
            ValueError: ``expected an int >= 1, got '0'``.
        """
        try:
            if self.kind == "gpus":
                return _gpus_from_text(text)
            if self.kind == "int":
                return self.check(int(text))
            if self.kind == "float":
                return self.check(float(text))
            if self.kind == "bool":
                return text.strip().lower() in {"1", "true", "t", "yes", "y", "on"}
            if self.kind == "choice" and text not in self.choices:
                raise ValueError(f"expected one of {', '.join(self.choices)}, got {text!r}")
            if self.kind == "names":
                problem = env_name_problem(text)
                if problem is not None:
                    raise ValueError(f"{text!r} {problem}")
            return text
        except ValueError as exc:
            if self.kind == "names":
                raise
            raise ValueError(f"expected {self.expect}, got {text!r}") from exc


@dataclass(frozen=True)
class Setting:
    """One row of :data:`TABLE`: a setting or option as every front end shows it."""

    name: str
    """The keyword (a :class:`Settings` field) or the option's name."""
    flag: str
    """The command-line flag (``--alpha``); the pytest plugin's is ``--pybench-alpha``."""
    help: str
    accepts: Accepts
    env: str | None = None
    """The environment variable that sets it, if any."""
    metavar: str | None = None
    default: Any = None
    keyword: bool = False
    """A benchmark's keyword argument that the flag overrides for one run."""
    short: str | None = None
    negative: str | None = None
    """The flag that turns a boolean setting off (``--no-check-determinism``)."""
    cli: bool = True
    """Offered by the ``pybench`` command line."""
    pytest: bool = True
    """Offered by ``pytest --pybench`` (as ``--pybench-<flag>``)."""

    @property
    def pytest_flag(self) -> str:
        return "--pybench-" + self.flag.removeprefix("--")

    @property
    def pytest_negative(self) -> str | None:
        return "--pybench-" + self.negative.removeprefix("--") if self.negative else None

    @property
    def pytest_dest(self) -> str:
        return "pybench_" + self.name

    @property
    def pytest_metavar(self) -> str | None:
        """The metavar of the pytest option (numbers get ``N`` or ``X``)."""
        if self.metavar or self.accepts.kind not in ("int", "float"):
            return self.metavar
        return "N" if self.accepts.kind == "int" else "X"

    def from_env(self, environ: Mapping[str, str]) -> Any:
        """The value its environment variable gives (``None`` when unset or empty).

        Raises:
            SettingsError: the variable holds a value the setting does not accept.
        """
        text = environ.get(self.env or "", "").strip()
        if not text:
            return None
        try:
            return self.accepts.parse(text)
        except ValueError as exc:
            raise SettingsError(f"{self.env}: {exc}") from None


_INT = "int"
_FLOAT = "float"
_KEYWORD_FLAG = Accepts("bool")

TABLE: tuple[Setting, ...] = (
    # -- benchmark keywords, overridden for one run --------------------------------
    Setting(
        "n_seeds",
        "--n-seeds",
        "Seeds to sample (overrides the 'n_seeds' keyword).",
        Accepts(_INT, low=2),
        keyword=True,
    ),
    Setting(
        "alpha",
        "--alpha",
        "Significance level for this run (overrides the 'alpha' keyword).",
        Accepts(_FLOAT, low=0.0, high=0.5, low_open=True),
        keyword=True,
    ),
    Setting(
        "min_effect",
        "--min-effect",
        "Only flag slots whose relative drop exceeds this, e.g. 0.02.",
        Accepts(_FLOAT, low=0.0, optional=True),
        keyword=True,
    ),
    Setting(
        "equivalence",
        "--equivalence",
        "PASS only if the run rules out a relative drop larger than this in every slot at "
        "once, e.g. 0.01 (a non-inferiority gate) [env: PYBENCH_EQUIVALENCE].",
        Accepts(_FLOAT, low=0.0, optional=True),
        env="PYBENCH_EQUIVALENCE",
        metavar="MARGIN",
        keyword=True,
    ),
    Setting(
        "rtol",
        "--rtol",
        "Differences within this fraction of a slot's largest value are ties "
        "(default 1e-12; overrides the 'rtol' keyword).",
        Accepts(_FLOAT, low=0.0, high=0.1),
        keyword=True,
    ),
    Setting(
        "workers",
        "--workers",
        "Run seeds in N worker processes (overrides the 'workers' keyword).",
        Accepts(_INT, low=1),
        keyword=True,
    ),
    Setting(
        "gpus",
        "--gpus",
        "One worker per listed GPU, each with its own CUDA_VISIBLE_DEVICES.",
        Accepts("gpus", optional=True, words="comma-separated GPU indices (e.g. 0,1)"),
        metavar="0,1,...",
        keyword=True,
    ),
    Setting(
        "env",
        "--env",
        "Set this variable as it is here for each seed in a worker (repeatable; "
        "adds to the 'env' keyword; every PYBENCH_* variable is always forwarded).",
        Accepts("names"),
        metavar="NAME",
        keyword=True,
    ),
    Setting(
        "adaptive",
        "--adaptive",
        "Run the stored seeds in stages and stop once the verdict is clear "
        "(overrides the 'adaptive' keyword).",
        _KEYWORD_FLAG,
        keyword=True,
    ),
    Setting(
        "timeout",
        "--timeout",
        "Stop a seed that runs longer; its benchmark is an ERROR (overrides 'timeout').",
        Accepts(_FLOAT, low=0.0, low_open=True, optional=True, words="a number of seconds > 0"),
        metavar="SECONDS",
        keyword=True,
    ),
    Setting(
        "check_determinism",
        "--check-determinism",
        "Run a new baseline's first seed twice and warn if it differs "
        "(overrides 'check_determinism'; on by default).",
        _KEYWORD_FLAG,
        negative="--no-check-determinism",
        keyword=True,
    ),
    # -- options of a run ------------------------------------------------------------
    Setting(
        "seed",
        "--seed",
        "Make the sampling of new seeds reproducible [env: PYBENCH_SEED].",
        Accepts(_INT, low=0),
        env="PYBENCH_SEED",
    ),
    Setting(
        "dask",
        "--dask",
        "Run seeds on a Dask scheduler at ADDRESS, or 'local:N' [env: PYBENCH_DASK].",
        Accepts("text"),
        env="PYBENCH_DASK",
        metavar="ADDRESS",
    ),
    Setting(
        "dask_timeout",
        "--dask-timeout",
        "Seconds to wait for the Dask scheduler to have a worker before failing "
        "[env: PYBENCH_DASK_TIMEOUT].",
        Accepts(_FLOAT, low=0.0, low_open=True, words="a number of seconds > 0"),
        env="PYBENCH_DASK_TIMEOUT",
        metavar="SECONDS",
        default=60.0,
        pytest=False,
    ),
    Setting(
        "strict",
        "--strict",
        "A benchmark without a stored baseline is an ERROR (exit 2) instead of a NEW one; "
        "nothing is saved [env: PYBENCH_STRICT=1].",
        Accepts("bool"),
        env="PYBENCH_STRICT",
        default=False,
    ),
    Setting(
        "alpha_scope",
        "--alpha-scope",
        "What alpha bounds: each benchmark's false-alarm rate (benchmark), or the chance that "
        "any benchmark of the run FAILs when none regressed (run; Holm's step-down) "
        "[env: PYBENCH_ALPHA_SCOPE].",
        Accepts("choice", choices=("benchmark", "run"), words="benchmark or run"),
        env="PYBENCH_ALPHA_SCOPE",
        default="benchmark",
    ),
    Setting(
        "confirm",
        "--confirm",
        "Re-judge a FAIL on fresh seeds, the baseline's commit (checked out in a temporary "
        "worktree) against the working tree; it FAILs only if that FAILs too.",
        Accepts("bool"),
        default=False,
    ),
    Setting(
        "resume",
        "--resume",
        "Reuse the seeds an interrupted or crashed run finished (same seeds and code).",
        Accepts("bool"),
        default=False,
        pytest=False,
    ),
    Setting(
        "baseline",
        "--baseline",
        "The baseline file [default: .pybench/baselines.jsonl in the nearest folder above "
        "PATH that has a .pybench/ folder, else at the root of its git repository].",
        Accepts("path"),
        metavar="FILE",
    ),
    Setting(
        "yes", "--yes", "Answer yes to every prompt.", Accepts("bool"), default=False, short="-y"
    ),
    Setting(
        "update",
        "--update",
        "Re-run the selected benchmarks on fresh seeds and overwrite their baselines.",
        Accepts("bool"),
        default=False,
        cli=False,
    ),
    Setting(
        "benches",
        "--bench",
        "Only this benchmark (repeatable); 'bench_x' or 'x'.",
        Accepts("text"),
        metavar="NAME",
        pytest=False,
    ),
    Setting(
        "capture",
        "--capture",
        "Capture what each seed prints (shown under an ERROR with -v); 'no' lets it through.",
        Accepts("choice", choices=("fd", "no")),
        default="fd",
        pytest=False,
    ),
    Setting("no_capture", "-s", "Shortcut for --capture=no.", Accepts("bool"), pytest=False),
    Setting(
        "verbose",
        "--verbose",
        "Show the per-slot table of each PASS and FAIL, the traceback and captured output "
        "of each ERROR, and each benchmark's time.",
        Accepts("bool"),
        short="-v",
        pytest=False,
    ),
    # -- the results history -------------------------------------------------------------
    Setting(
        "history",
        "--history",
        "The history store: a SQLite file, sqlite:///PATH or postgresql://... "
        "[default: history.db beside the baseline file; env: PYBENCH_HISTORY].",
        Accepts("text"),
        env="PYBENCH_HISTORY",
        metavar="URL",
    ),
    Setting("no_history", "--no-history", "Do not record this run.", Accepts("bool")),
    # -- reports -----------------------------------------------------------------------
    Setting(
        "json_path",
        "--json",
        "Write the run as JSON to PATH ('-': stdout; the report then goes to stderr).",
        Accepts("text"),
        metavar="PATH",
        pytest=False,
    ),
    Setting(
        "junit_path",
        "--junit-xml",
        "Write a JUnit XML report to PATH (one test case per benchmark).",
        Accepts("text"),
        metavar="PATH",
        pytest=False,
    ),
    Setting(
        "markdown_path",
        "--markdown",
        "Write a Markdown summary to PATH (also appended to $GITHUB_STEP_SUMMARY when set).",
        Accepts("text"),
        metavar="PATH",
        pytest=False,
    ),
    Setting(
        "html_path",
        "--html",
        "Write a self-contained HTML report with plots to PATH (needs matplotlib).",
        Accepts("text"),
        metavar="PATH",
        pytest=False,
    ),
)
"""Every setting and option, in the order the command line lists them."""

_BY_NAME = {setting.name: setting for setting in TABLE}


def row(name: str) -> Setting:
    """The row of ``name`` in :data:`TABLE`."""
    return _BY_NAME[name]


def _check_value(name: str, key: str, value: Any) -> Any:
    if key == "env":
        return _check_env(name, value)
    try:
        return row(key).accepts.check(value)
    except ValueError as exc:
        listed = not isinstance(value, (str, bytes)) and hasattr(value, "__iter__")
        shown = tuple(value) if key == "gpus" and listed else value
        raise SettingsError(f"{name}: {key}={shown!r} {exc}") from None


def check(name: str, values: Mapping[str, Any]) -> Settings:
    """Validate configuration ``values`` (a subset of :data:`KEYWORDS`) over the defaults.

    Raises:
        SettingsError: naming the benchmark and the keyword when a value is invalid.
    """
    merged = {**dataclasses.asdict(Settings()), **values}
    checked = {key: _check_value(name, key, merged[key]) for key in KEYWORDS}
    return Settings(**checked)


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
