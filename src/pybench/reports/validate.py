"""A small JSON Schema checker for the report's own schema (``run.schema.json``).

It covers the keywords that schema uses (``type``, ``const``, ``enum``,
``required``, ``properties``, ``additionalProperties``, ``items``, ``minimum``, ``maximum``,
``$ref`` to ``#/$defs``, ``oneOf``, ``not``, ``if``/``then``/``else``) and
returns the first mismatch as a short sentence with a JSON pointer, so that
``pybench report`` can refuse a file in one line. The tests check it agrees
with the ``jsonschema`` package on the same documents.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["first_error"]

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def _is(value: Any, kind: str) -> bool:
    if isinstance(value, bool) and kind in ("integer", "number"):
        return False
    if kind == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES[kind])


def _kind(value: Any) -> str:
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _is(value, name):
            return name
    return type(value).__name__


def _object(value: dict[str, Any], schema: Mapping[str, Any], root: Any, where: str) -> str | None:
    for key in schema.get("required", ()):
        if key not in value:
            return f"{where or '/'}: missing field {key!r}"
    properties = schema.get("properties", {})
    for key, item in value.items():
        if key in properties:
            error = _check(item, properties[key], root, f"{where}/{key}")
            if error:
                return error
        elif schema.get("additionalProperties") is False:
            return f"{where or '/'}: unexpected field {key[:40]!r}"
    return None


def _combined(value: Any, schema: Mapping[str, Any], root: Any, where: str) -> str | None:
    if "oneOf" in schema:
        errors = [_check(value, option, root, where) for option in schema["oneOf"]]
        if sum(error is None for error in errors) != 1:
            return next((e for e in errors if e), f"{where or '/'}: matches several alternatives")
    if "not" in schema and _check(value, schema["not"], root, where) is None:
        return f"{where or '/'}: a field that is not allowed here"
    if "if" in schema:
        branch = "then" if _check(value, schema["if"], root, where) is None else "else"
        if branch in schema:
            return _check(value, schema[branch], root, where)
    return None


def _check(
    value: Any, schema: Mapping[str, Any], root: Mapping[str, Any], where: str
) -> str | None:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _check(value, root["$defs"][name], root, where)
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not any(_is(value, kind) for kind in kinds):
            return f"{where or '/'}: expected {' or '.join(kinds)}, got {_kind(value)}"
    if "const" in schema and (value != schema["const"] or _kind(value) != _kind(schema["const"])):
        return f"{where or '/'}: expected {schema['const']!r}"
    if "enum" in schema and not any(
        value == choice and _kind(value) == _kind(choice) for choice in schema["enum"]
    ):
        return f"{where or '/'}: expected one of {', '.join(map(repr, schema['enum']))}"
    if "minimum" in schema and _is(value, "number") and value < schema["minimum"]:
        return f"{where or '/'}: below {schema['minimum']}"
    if "maximum" in schema and _is(value, "number") and value > schema["maximum"]:
        return f"{where or '/'}: above {schema['maximum']}"
    if isinstance(value, dict):
        error = _object(value, schema, root, where)
        if error:
            return error
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            error = _check(item, schema["items"], root, f"{where}/{i}")
            if error:
                return error
    return _combined(value, schema, root, where)


def first_error(document: Any, schema: Mapping[str, Any]) -> str | None:
    """The first place where ``document`` does not follow ``schema``, or ``None``."""
    return _check(document, schema, schema, "")
