"""Variables, and documents' fragment expansion, bounded before graphql-core works on them.

The document is bounded by its size and tokens (``schema.wire.MAX_DOCUMENT_CHARS``, ``MAX_TOKENS``),
but its variables come as JSON of up to a body's size: coercing a body's worth of composite inputs
holds graphql-core and strawberry far longer than a request may stall, with every other request
waiting (BENCHMARKS.md, "Input bounds"). A walk over the raw values (iterative: any depth) refuses them
first.

A document of a few hundred tokens can still name 2**59 fields: each fragment spreading the one
before it twice. strawberry's depth and alias limiters expand every spread afresh, so such a
document (about 700 tokens, under MAX_TOKENS) held the process for good, before authentication.
:func:`expansion_refusal` counts the fields each fragment expands to once per fragment and refuses
the document before any validation rule walks it. The bound is also what keeps graphql-core's
OverlappingFieldsCanBeMerged (quadratic in the fields of one selection set) short: a selection set
of about a thousand fields, under MAX_TOKENS, is past the 100 ms a request may stall
(BENCHMARKS.md, "Input bounds")."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import MaskErrors, SchemaExtension
from strawberry.types.graphql import OperationType

from models.errors import RateLimited
from services import outages

MAX_LIST_ITEMS = 1000  # items in any one list (a list of input objects coerces well within 100 ms)
MAX_VARIABLE_VALUES = 50_000  # values in all the variables together (lists, objects, keys, scalars)
# Fields a document names: its operations with their spreads expanded, and its fragment definitions
# (the standard introspection query: about 300).
MAX_EXPANDED_FIELDS = 500


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


def expansion_refusal(document: DocumentNode) -> str | None:
    """Why this document is refused before validation (None: the validation rules may walk it):
    its operations (their spreads expanded) and fragment definitions naming more than
    :data:`MAX_EXPANDED_FIELDS` fields in all.
    Each fragment is counted once (memoised); a fragment cycle counts as nothing here (validation
    refuses it)."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    sizes: dict[str, int] = {}
    in_progress: set[str] = set()

    def size(selection_set: SelectionSetNode | None) -> int:
        total = 0
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                total += 1 + size(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                total += size(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                total += fragment(selection.name.value)
            if total > MAX_EXPANDED_FIELDS:
                return total
        return total

    def own(selection_set: SelectionSetNode | None) -> int:
        """The fields written in a selection set, its spreads not followed."""
        total = 0
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                total += 1 + own(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                total += own(selection.selection_set)
        return total

    def fragment(name: str) -> int:
        if name not in sizes:
            definition = fragments.get(name)
            if definition is None or name in in_progress:
                return 0
            in_progress.add(name)
            sizes[name] = size(definition.selection_set)
            in_progress.discard(name)
        return sizes[name]

    try:
        # Every operation and every fragment definition (used or not) is validated on its own:
        # together they may name at most the bound (a definition by its own fields: the overlap rule
        # compares the spreads in it once per pair of fragments).
        total = 0
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                total += size(definition.selection_set)
            elif isinstance(definition, FragmentDefinitionNode):
                total += own(definition.selection_set)
            if total > MAX_EXPANDED_FIELDS:
                return f"the document names more than {MAX_EXPANDED_FIELDS} fields once its fragments are expanded"
    except RecursionError:
        return "the document is nested too deeply"
    return None


class MaxVariablesLimiter(SchemaExtension):
    """Refuses an operation whose variables are past the limits, as a validation error (for
    queries, mutations and subscriptions alike: the document is then not validated either)."""

    def on_validate(self) -> Iterator[None]:
        document = self.execution_context.graphql_document
        refusal = (expansion_refusal(document) if document is not None else None) or variables_refusal(
            self.execution_context.variables
        )
        if refusal is not None:
            self.execution_context.pre_execution_errors = [
                GraphQLError(refusal, extensions={"code": "VALIDATION_FAILED"})
            ]
        yield


def should_mask(error: GraphQLError) -> bool:
    """Mask faults; keep what a client can act on (auth, bad documents, our own GraphQLErrors)."""
    original = error.original_error
    if original is None:  # validation and parse errors
        return False
    if isinstance(original, GraphQLError):
        return False
    return True


def _settings(context: Any) -> Any:
    return getattr(getattr(context, "services", None), "settings", None)


class IntrospectionPolicy(SchemaExtension):
    """``__schema`` and ``__type`` only where the settings allow them (``CH_GRAPHQL_INTROSPECTION``;
    off in production unless configured). Calls without the service's context (in-process) keep it."""

    def on_operation(self) -> Iterator[None]:
        settings = _settings(self.execution_context.context)
        if settings is not None and not settings.graphql_introspection_enabled:
            rules = self.execution_context.validation_rules
            self.execution_context.validation_rules = (*rules, NoSchemaIntrospectionCustomRule)
        yield


class ReadRateLimit(SchemaExtension):
    """Every authenticated query counts against the key's and the team's read limits (ratelimit.py);
    over one, nothing runs and the answer is a ``RATE_LIMITED`` error with ``retryAfterSeconds``
    (the HTTP view turns it into a 429 with ``Retry-After``: :func:`rate_limited_retry_after`)."""

    async def on_execute(self) -> AsyncIterator[None]:
        ec = self.execution_context
        principal = getattr(ec.context, "principal", None)
        if principal is not None and ec.operation_type == OperationType.QUERY:
            try:
                await ec.context.services.limiter.read(principal)
            except RateLimited as exc:
                extensions = {
                    "code": exc.code.value,
                    "retryAfterSeconds": exc.retry_after_seconds,
                    "resetAt": exc.reset_at,
                }
                ec.result = GraphQLExecutionResult(
                    data=None, errors=[GraphQLError(exc.message, extensions=extensions)]
                )
        yield


def rate_limited_retry_after(response: Any) -> int | None:
    """The ``Retry-After`` of an HTTP answer whose operation was refused by a rate limit, else None."""
    if not isinstance(response, dict) or response.get("data") is not None:
        return None
    for error in response.get("errors") or ():
        extensions = error.get("extensions") or {}
        if extensions.get("code") == "RATE_LIMITED":
            return int(extensions["retryAfterSeconds"])
    return None


class MaskFaults(MaskErrors):
    """A fault caused by an outage reads SERVICE_UNAVAILABLE (503 over HTTP, see web.graphql.GraphQLView)."""

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        if outages.is_unavailable(error.original_error):
            return outages.graphql_error(error)
        return super().anonymise_error(error)
