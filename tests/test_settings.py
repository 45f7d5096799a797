"""Settings: validation of keyword defaults and command-line overrides."""

from __future__ import annotations

import pytest

from pybench.core.settings import KEYWORDS, Settings, SettingsError, check, resolve


def test_defaults_are_stated_once():
    assert KEYWORDS == (
        "n_seeds",
        "alpha",
        "min_effect",
        "workers",
        "gpus",
        "env",
        "adaptive",
        "timeout",
        "check_determinism",
        "rtol",
        "equivalence",
    )
    assert check("bench_x", {}) == Settings()
    assert Settings() == Settings(
        n_seeds=30,
        alpha=0.05,
        min_effect=None,
        workers=1,
        gpus=None,
        env=(),
        adaptive=False,
        timeout=None,
        check_determinism=True,
    )


def test_check_normalises():
    got = check("bench_x", {"alpha": 1 / 8, "min_effect": 0, "gpus": [1, 0], "timeout": 2})
    assert got.alpha == 0.125 and got.min_effect == 0.0 and got.gpus == (1, 0)
    assert check("bench_x", {"adaptive": True}).adaptive is True
    assert got.timeout == 2.0 and isinstance(got.timeout, float)


@pytest.mark.parametrize(
    ("values", "needle"),
    [
        ({"n_seeds": 1}, "n_seeds=1"),
        ({"n_seeds": True}, "n_seeds=True"),
        ({"alpha": 1.0}, "alpha=1.0"),
        ({"alpha": 0.6}, "alpha=0.6 must be a number in (0, 0.5]"),
        ({"rtol": -1e-9}, "rtol=-1e-09 must be a number in [0, 0.1]"),
        ({"rtol": "x"}, "rtol='x'"),
        ({"min_effect": -0.1}, "min_effect=-0.1"),
        ({"workers": 0}, "workers=0"),
        ({"gpus": "0,1"}, "gpus='0,1'"),
        ({"gpus": [-1]}, "gpus=(-1,)"),
        ({"env": "MODEL"}, "env='MODEL' must be a list of variable names"),
        ({"env": ["A=1"]}, "env entry 'A=1' must be a variable name, not an assignment"),
        ({"env": [""]}, "env entry '' must be a non-empty variable name"),
        ({"env": [3]}, "env entry 3 must be a non-empty variable name"),
        ({"adaptive": 1}, "adaptive=1 must be True or False"),
        ({"adaptive": "yes"}, "adaptive='yes' must be True or False"),
        ({"timeout": 0}, "timeout=0"),
        ({"timeout": float("inf")}, "timeout=inf"),
        ({"timeout": "10s"}, "timeout='10s'"),
        ({"check_determinism": 0}, "check_determinism=0"),
    ],
)
def test_bad_values_name_benchmark_and_keyword(values, needle):
    with pytest.raises(SettingsError) as info:
        check("bench_x", values)
    assert str(info.value).startswith("bench_x: ") and needle in str(info.value)


def test_resolve_overrides_only_given_values():
    base = Settings(n_seeds=12, alpha=0.01)
    assert resolve(base, {"alpha": None, "workers": None}) is base
    assert resolve(base, {"alpha": 0.1, "gpus": (0,)}) == Settings(n_seeds=12, alpha=0.1, gpus=(0,))
    with pytest.raises(ValueError):
        resolve(base, {"colour": "red"})


def test_env_names_from_the_command_line_add_to_the_keyword():
    base = check("bench_x", {"env": ["MODEL", "DATA", "MODEL"]})
    assert base.env == ("MODEL", "DATA")
    assert resolve(base, {"env": ()}) is base
    assert resolve(base, {"env": ("DATA",)}) is base
    assert resolve(base, {"env": ("SIZE", "MODEL")}).env == ("MODEL", "DATA", "SIZE")
