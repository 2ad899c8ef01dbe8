"""createCreative's input from a REST body (web/rest.py, ``POST /api/v1/creative-hub/creatives``):
the JSON object becomes the very strawberry input the GraphQL mutation takes (its Python field
names are the snake_case ones; enums by name, any case), so both forms run one code path. A key the
input lacks, or a value of the wrong kind, is refused naming its path in the body; a domain
refusal's GraphQL path (``input``, camelCase) is turned into the body's (snake_case)."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from strawberry.types.base import StrawberryList, StrawberryOptional, has_object_definition
from strawberry.types.enum import StrawberryEnumDefinition

from models.errors import DomainError
from web.errors import HTTPError

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def _snake(name: str) -> str:
    return _CAMEL.sub("_", name).lower()


def _invalid(message: str, path: list[str]) -> HTTPError:
    return HTTPError(400, "VALIDATION_FAILED", message, path)


def build(cls: Any, body: Any, path: list[str]) -> Any:
    """``body`` (a JSON object) as the strawberry input ``cls``: snake_case keys, enums by name
    (case-insensitive), nested inputs and lists of them; a missing key takes the input's default.
    A key the input lacks, or a value of the wrong kind, is refused naming its path."""
    if not isinstance(body, dict):
        raise _invalid(f"{'.'.join(path) or 'the body'} must be a JSON object", path)
    fields = {f.python_name: f for f in cls.__strawberry_definition__.fields}
    if unknown := sorted(set(body) - set(fields)):
        raise _invalid(f"unknown field {unknown[0]!r}; one of {', '.join(fields)}", [*path, unknown[0]])
    for name, field in fields.items():  # a field without a default must be given
        required = field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        nullable = isinstance(field.type, StrawberryOptional)
        if required and (name not in body or (body[name] is None and not nullable)):
            raise _invalid(f"{name} is required", [*path, name])
    return cls(
        **{
            name: _value(fields[name].type, value, [*path, name])
            for name, value in body.items()
            if value is not None or isinstance(fields[name].type, StrawberryOptional)
        }
    )


def _value(kind: Any, value: Any, path: list[str]) -> Any:
    if isinstance(kind, StrawberryOptional):
        return None if value is None else _value(kind.of_type, value, path)
    if value is None:
        raise _invalid(f"{path[-1]} must not be null", path)
    if isinstance(kind, StrawberryList):
        if not isinstance(value, list):
            raise _invalid(f"{path[-1]} must be a JSON array", path)
        return [_value(kind.of_type, item, [*path, str(i)]) for i, item in enumerate(value)]
    if has_object_definition(kind):
        return build(kind, value, path)
    definition = getattr(kind, "__strawberry_definition__", None) or kind
    if isinstance(definition, StrawberryEnumDefinition):
        wrapped: Any = definition.wrapped_cls
        names = {v.name for v in definition.values}
        if not isinstance(value, str) or value.upper() not in names:
            raise _invalid(f"{path[-1]} must be one of {', '.join(sorted(names))}", path)
        return wrapped[value.upper()]
    if kind is bool:
        if not isinstance(value, bool):
            raise _invalid(f"{path[-1]} must be true or false", path)
        return value
    if kind is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise _invalid(f"{path[-1]} must be a whole number", path)
        return value
    if kind is str or getattr(kind, "__name__", "") == "ID":
        if not isinstance(value, str):
            raise _invalid(f"{path[-1]} must be a string", path)
        return value
    return value  # JSON: any value, checked by the domain as the GraphQL form's is


def rest_path(exc: DomainError) -> DomainError:
    """The domain's GraphQL path (``input``, camelCase) as the body's path (snake_case)."""
    field = exc.field
    if field and field[0] == "input":
        field = field[1:]
    exc.field = [_snake(part) for part in field] if field else field
    return exc
