"""Variables bounded before graphql-core coerces them.

The document is bounded by its size and tokens (``schema.MAX_DOCUMENT_CHARS``, ``MAX_TOKENS``),
but its variables come as JSON of up to a body's size: coercing a list of 40,000 composite inputs
(about 1 MiB) took graphql-core and strawberry more than a second, with every other request
waiting. A walk over the raw values (iterative: any depth) refuses them first."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

MAX_LIST_ITEMS = 1000  # items in any one list (about 30 ms of coercion for a list of input objects)
MAX_VARIABLE_VALUES = 50_000  # values in all the variables together (lists, objects, keys, scalars)


def variables_refusal(variables: Any) -> str | None:
    """Why these variables are refused before any work (None: they may be coerced)."""
    pending = [variables]
    seen = 0
    while pending:
        value = pending.pop()
        seen += 1
        if seen > MAX_VARIABLE_VALUES:
            return f"the variables hold more than {MAX_VARIABLE_VALUES} values"
        if isinstance(value, dict):
            seen += len(value)
            pending.extend(value.values())
        elif isinstance(value, list):
            if len(value) > MAX_LIST_ITEMS:
                return f"a list in the variables has more than {MAX_LIST_ITEMS} items"
            pending.extend(value)
    return None


class MaxVariablesLimiter(SchemaExtension):
    """Refuses an operation whose variables are past the limits, as a validation error (for
    queries, mutations and subscriptions alike: the document is then not validated either)."""

    def on_validate(self) -> Iterator[None]:
        refusal = variables_refusal(self.execution_context.variables)
        if refusal is not None:
            self.execution_context.pre_execution_errors = [
                GraphQLError(refusal, extensions={"code": "VALIDATION_FAILED"})
            ]
        yield
