"""Logs hold no capabilities.

* A signed download link (``/files/<id>?expires=…&signature=…``, see :func:`auth.sign_file_path`)
  opens the file for a week without a login: the access log keeps the path and redacts the values
  of :data:`SECRET_QUERY_PARAMS` (uvicorn's access lines, and its websocket lines, which carry the
  query string too), also where a link is percent-encoded inside another URL's query.
* httpx and httpcore log every request's full URL at INFO: providers' presigned output URLs and
  tenants' webhook URLs. They log at WARNING and above only.
* Where our own code names a URL it did not build (a webhook endpoint, a provider's answer), it
  logs :func:`url_host` only; an exception whose text may hold one is logged as
  :func:`describe_error` (no traceback: its last line would repeat the text).

:func:`install` does all of it; ``main.py`` calls it once for every command.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote, urlsplit

# Query parameters whose values are (part of) a capability: our signed links (auth.py) and the
# usual names of tokens, keys and presigned-URL signatures.
SECRET_QUERY_PARAMS = frozenset(
    {
        "signature",
        "expires",
        "sig",
        "token",
        "access_token",
        "jwt",
        "key",
        "api_key",
        "apikey",
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
        "x-goog-signature",
        "x-goog-credential",
        "_jwt",
    }
)
REDACTED = "REDACTED"
_PARAM = re.compile(r"(?P<lead>[?&;])(?P<name>[^=&;?#\s\"']+)=(?P<value>[^&;#\s\"']*)")
# The same, percent-encoded once (a link inside another URL's query): ``%3F``/``%26``/``%3B`` before
# the name, ``%3D`` after it, the value up to the next encoded or plain separator.
_ENCODED_PARAM = re.compile(
    r"(?P<lead>%3[fF]|%26|%3[bB])(?P<name>[A-Za-z0-9_.\-]+)(?P<eq>%3[dD])"
    r"(?P<value>(?:(?!%26|%3[bB]|%23)[^&;#\s\"'])*)"
)
QUIET_LOGGERS = ("httpx", "httpcore")
REDACTED_LOGGERS = ("uvicorn.access", "uvicorn.error")


def redact_query(text: str) -> str:
    """``text`` with the values of capability-bearing query parameters replaced by ``REDACTED``."""
    if "=" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        if unquote(match["name"]).lower() not in SECRET_QUERY_PARAMS:
            return match[0]
        return f"{match['lead']}{match['name']}={REDACTED}"

    def replace_encoded(match: re.Match[str]) -> str:
        if match["name"].lower() not in SECRET_QUERY_PARAMS:
            return match[0]
        return f"{match['lead']}{match['name']}{match['eq']}{REDACTED}"

    text = _PARAM.sub(replace, text)
    return _ENCODED_PARAM.sub(replace_encoded, text) if "%" in text else text


def describe_error(exc: BaseException) -> str:
    """``Type: message`` of an exception, its capability-bearing query values redacted."""
    return redact_query(f"{type(exc).__name__}: {exc}")


def url_host(url: str) -> str:
    """The host of ``url`` (no scheme, user info, path or query), for a log line."""
    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"


class RedactQueryStrings(logging.Filter):
    """Rewrites a record's text arguments (uvicorn passes the path with its query as one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_query(arg) if isinstance(arg, str) else arg for arg in record.args)
        elif isinstance(record.msg, str) and not record.args:
            record.msg = redact_query(record.msg)
        return True


def install() -> None:
    """Quiet httpx/httpcore, redact uvicorn's lines. Idempotent; filters set on the loggers survive
    uvicorn's own logging configuration (``dictConfig`` replaces handlers, not logger filters)."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactQueryStrings) for f in logger.filters):
            logger.addFilter(RedactQueryStrings())
