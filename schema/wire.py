"""What every GraphQL request is read with, over HTTP and websockets alike: strict JSON and the
document limits (a document is refused before it is parsed when it is too long to parse quickly)."""

from __future__ import annotations

import json
import math
from typing import Any

from graphql import DocumentNode, GraphQLSyntaxError, Source, parse

# The document limits, over HTTP and websockets alike (realtime parses with them too).
MAX_TOKENS = 2000
MAX_DEPTH = 10
MAX_ALIASES = 30
# Characters in a document: lexing a megabyte of comment or string literal takes the parser about
# 0.3 s (token limit or not); values that big travel as variables.
MAX_DOCUMENT_CHARS = 100_000


def document_too_long(query: str | None) -> str | None:
    """Why a document is refused before it is parsed (None: it may be parsed)."""
    if query is not None and len(query) > MAX_DOCUMENT_CHARS:
        return (
            f"the GraphQL document is longer than {MAX_DOCUMENT_CHARS} characters; send values as variables"
        )
    return None


def parse_document(query: str) -> DocumentNode:
    """A document parsed under the limits every operation runs under (GraphQLSyntaxError past
    them): the parser stops at MAX_TOKENS instead of reading megabytes of tokens first."""
    refusal = document_too_long(query)
    if refusal is not None:
        raise GraphQLSyntaxError(Source(query[:100]), 0, refusal)
    return parse(query, max_tokens=MAX_TOKENS)


class _NotJson(ValueError):
    """What Python's parser accepts but JSON (and PostgreSQL's json columns) does not."""


def _constant(name: str) -> Any:
    raise _NotJson(f"invalid JSON: {name} is not a JSON number")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400
        raise _NotJson("invalid JSON: a number is out of range")
    return value


def loads(data: str | bytes) -> Any:
    """A client's JSON document, or ValueError with a short message: whatever the input, never
    another exception (a body nested 100,000 deep overflows the parser's recursion, invalid UTF-8
    fails its decoding, a number of more than 4,300 digits its int()). NaN, Infinity and numbers
    past a float's range are refused too: Python reads them, but stored in a job's JSON they broke
    PostgreSQL's insert (a 500)."""
    try:
        return json.loads(data, parse_constant=_constant, parse_float=_float)
    except _NotJson as exc:
        raise ValueError(str(exc)) from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc.msg} at character {exc.pos}") from None
    except UnicodeDecodeError:
        raise ValueError("invalid JSON: not UTF-8") from None
    except RecursionError:
        raise ValueError("invalid JSON: nested too deeply") from None
    except ValueError:
        raise ValueError("invalid JSON: a number is too long") from None
