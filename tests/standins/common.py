"""What every stand-in shares: the request log, tasks with a state machine, served output files and
the on-demand failure markers.

Markers (anywhere in the user's text the provider receives):

* ``[standin:429]``: the first request carrying this exact text is answered 429 (``Retry-After: 1``),
  later ones normally.
* ``[standin:500]``: the first request carrying this exact text is answered with a 5xx.
* ``[standin:poll500]``: the first poll of the task is answered with a 5xx (async providers).
* ``[standin:moderate]``: the provider's documented moderation / content-policy failure, every time.
* ``[standin:moderate-sync]``: Kling only, the synchronous content-safety rejection (code 1301).
* ``[standin:fail]``: Runway and BFL only, the task fails for a reason other than moderation
  (Runway ``INTERNAL.BAD_OUTPUT.CODE01``, BFL ``Error`` with its text in ``error``).
"""

from __future__ import annotations

import base64
import itertools
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

MARK_429 = "[standin:429]"
MARK_500 = "[standin:500]"
MARK_POLL_500 = "[standin:poll500]"
MARK_MODERATE = "[standin:moderate]"
MARK_MODERATE_SYNC = "[standin:moderate-sync]"
MARK_FAIL = "[standin:fail]"  # Runway, BFL: the task fails (not moderation) once it finishes

# The first path segment of a request names its family; BFL's polling_url points at a "regional" host.
PREFIX_FAMILY = {
    "bfl": "bfl",
    "bfl-eu2": "bfl",
    "openai": "openai",
    "ark": "ark",
    "luma": "luma",
    "runway": "runway",
    "kling": "kling",
    "gemini": "gemini",
    "heygen": "heygen",
    "elevenlabs": "elevenlabs",
    "creatomate": "creatomate",
    "cdn": "cdn",
}


@dataclass
class Recorded:
    """One request a stand-in received."""

    family: str
    prefix: str
    method: str
    path: str  # below the family prefix, e.g. "/v1/flux-2-pro"
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    status: int | None = None
    at: float = field(default_factory=time.monotonic)

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None


@dataclass
class Task:
    """An asynchronous provider task: in progress on the first poll, finished on the second."""

    id: str
    family: str
    kind: str  # e.g. "text2video"
    text: str
    params: dict[str, Any]
    created: float = field(default_factory=time.time)
    polls: int = 0
    cancelled: bool = False
    outcome: str = "ok"  # ok | moderated | failed
    output_urls: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def advance(self) -> str:
        """``"running"`` on the first poll, ``"done"`` from the second on."""
        self.polls += 1
        return "running" if self.polls < 2 else "done"


@dataclass
class StoredFile:
    data: bytes
    content_type: str
    family: str
    requires_key: bool = False
    expires_at: float | None = None


class Hub:
    """The shared state of all stand-ins."""

    def __init__(self) -> None:
        self.base = ""  # http://127.0.0.1:<port>, set once the server listens
        # The day the stand-ins compare shutdown dates with (None: the UTC date); a test pins it to
        # the service's CH_TODAY so both sides agree.
        self.today: date | None = None
        self.keys: dict[str, str] = {
            "bfl": "bfl_" + secrets.token_hex(16),
            "openai": "sk-proj-" + secrets.token_hex(24),
            "ark": secrets.token_hex(18),
            "luma": "luma-api-" + secrets.token_hex(16),
            "runway": "key_" + secrets.token_hex(64),
            "gemini": "AIza" + secrets.token_urlsafe(26),
            "heygen": secrets.token_hex(20),
            "elevenlabs": "sk_" + secrets.token_hex(24),
            "creatomate": secrets.token_hex(32),
        }
        self.kling_access_key = "AK" + secrets.token_hex(15)
        self.kling_secret_key = "SK" + secrets.token_hex(15)
        self.records: list[Recorded] = []
        self.tasks: dict[str, Task] = {}
        self.files: dict[str, StoredFile] = {}
        self._fired: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._digits = itertools.count(int(time.time() * 1000) * 1000)

    def day(self) -> date:
        return self.today or datetime.now(UTC).date()

    # -- environment for the service ---------------------------------------------------------
    def env(self) -> dict[str, str]:
        """``<FAMILY>_BASE_URL`` and keys pointing every adapter here (as docs/providers.md names them)."""
        b = self.base
        env = {
            "BFL_BASE_URL": f"{b}/bfl",
            "OPENAI_BASE_URL": f"{b}/openai/v1",
            "ARK_BASE_URL": f"{b}/ark/api/v3",
            "LUMA_BASE_URL": f"{b}/luma/v1",
            "RUNWAY_BASE_URL": f"{b}/runway/v1",
            "KLING_BASE_URL": f"{b}/kling/v1",
            "GEMINI_BASE_URL": f"{b}/gemini/v1beta",
            "HEYGEN_BASE_URL": f"{b}/heygen",
            "ELEVENLABS_BASE_URL": f"{b}/elevenlabs",
            "CREATOMATE_BASE_URL": f"{b}/creatomate/v1",
            "KLING_ACCESS_KEY": self.kling_access_key,
            "KLING_SECRET_KEY": self.kling_secret_key,
        }
        for family, key in self.keys.items():
            env[f"{family.upper()}_API_KEY"] = key
        return env

    # -- markers --------------------------------------------------------------------------------
    def once(self, marker: str, text: str | None, scope: str = "") -> bool:
        """True the first time ``marker`` is seen in ``text`` (per text and scope), False after."""
        if not text or marker not in text:
            return False
        with self._lock:
            key = (marker + scope, text)
            if key in self._fired:
                return False
            self._fired.add(key)
            return True

    @staticmethod
    def has(marker: str, text: str | None) -> bool:
        return bool(text) and marker in text  # type: ignore[operator]  # bool(text) does not narrow text

    # -- tasks and files ------------------------------------------------------------------------
    def new_task(
        self, family: str, kind: str, text: str, params: dict[str, Any], task_id: str | None = None
    ) -> Task:
        task = Task(task_id or str(uuid.uuid4()), family, kind, text or "", params)
        if self.has(MARK_MODERATE, text):
            task.outcome = "moderated"
        elif self.has(MARK_FAIL, text):
            task.outcome = "failed"
        self.tasks[task.id] = task
        return task

    def numeric_id(self) -> str:
        return str(next(self._digits))

    def store(
        self,
        data: bytes,
        content_type: str,
        family: str,
        ext: str,
        *,
        ttl: float | None = None,
    ) -> str:
        """Serve ``data`` at a fresh unauthenticated, signed-looking URL; the URL."""
        token = secrets.token_urlsafe(12)
        expires = time.time() + ttl if ttl else None
        self.files[token] = StoredFile(data, content_type, family, expires_at=expires)
        query = f"?Expires={int(expires)}&Signature={secrets.token_hex(8)}" if expires else ""
        return f"{self.base}/cdn/{family}/{token}/output.{ext}{query}"

    def store_private(self, data: bytes, content_type: str, family: str, file_id: str) -> None:
        """A file fetched with the family's API key (Gemini's files/<id>:download)."""
        self.files[file_id] = StoredFile(data, content_type, family, requires_key=True)

    # -- what the tests read --------------------------------------------------------------------
    def requests(self, family: str, method: str | None = None, path: str | None = None) -> list[Recorded]:
        return [
            r
            for r in list(self.records)
            if r.family == family
            and (method is None or r.method == method)
            and (path is None or r.path == path or (path.endswith("*") and r.path.startswith(path[:-1])))
        ]

    def submits_with(self, family: str, text: str) -> list[Recorded]:
        """The requests of ``family`` whose body carries ``text`` (the unique prompt of one job)."""
        needle = text.encode()
        quoted = json.dumps(text)[1:-1].encode()
        return [r for r in self.requests(family) if needle in r.body or quoted in r.body]

    def task_for(self, text: str) -> Task:
        found = [t for t in self.tasks.values() if t.text == text]
        assert len(found) == 1, (text, found)
        return found[0]

    def mentioning(self, family: str, ident: str) -> list[Recorded]:
        """Requests of ``family`` whose path or query carries ``ident`` (the polls of one task)."""
        return [r for r in self.requests(family) if ident in r.path or ident in r.query.values()]


class Recording:
    """ASGI middleware: logs every request (family, path, headers, body) and its response status."""

    def __init__(self, app: Any, hub: Hub) -> None:
        self.app = app
        self.hub = hub

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        path: str = scope["path"]
        prefix, _, rest = path.lstrip("/").partition("/")
        record = Recorded(
            family=PREFIX_FAMILY.get(prefix, "?"),
            prefix=prefix,
            method=scope["method"],
            path="/" + rest,
            query=dict(parse_qsl(scope.get("query_string", b"").decode())),
            headers={k.decode().lower(): v.decode("latin-1") for k, v in scope["headers"]},
            body=body,
        )
        self.hub.records.append(record)
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def capture(message: Any) -> None:
            if message["type"] == "http.response.start":
                record.status = message["status"]
            await send(message)

        await self.app(scope, replay, capture)


async def read_json(request: Request) -> tuple[Any, str | None]:
    """The JSON body, or an explanation of why there is none."""
    ctype = request.headers.get("content-type", "")
    if not ctype.split(";")[0].strip().lower() == "application/json":
        return None, f"Content-Type must be application/json, got {ctype!r}"
    raw = await request.body()
    try:
        return json.loads(raw), None
    except ValueError as exc:
        return None, f"body is not valid JSON: {exc}"


def bearer(request: Request) -> str | None:
    """The token of ``Authorization: Bearer <token>`` (scheme case-insensitive, one space)."""
    value = request.headers.get("authorization")
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def decode_data_uri(uri: str) -> tuple[str, bytes] | None:
    """``data:<mime>;base64,<payload>`` → (mime, bytes); None when it is not one."""
    if not uri.startswith("data:") or ";base64," not in uri:
        return None
    head, payload = uri[5:].split(";base64,", 1)
    try:
        return head, base64.b64decode(payload, validate=True)
    except ValueError:
        return None


def file_response(stored: StoredFile) -> Response:
    return Response(
        stored.data, media_type=stored.content_type, headers={"Content-Length": str(len(stored.data))}
    )


def ratio_of(text: str, sep: str = ":") -> float:
    w, h = text.split(sep)
    return int(w) / int(h)


def dims_for_ratio(ratio: str, long_side: int = 1280) -> tuple[int, int]:
    """Pixel dimensions with the given ``W:H`` aspect ratio (long side ``long_side``)."""
    w, h = (int(x) for x in ratio.split(":"))
    if w >= h:
        return long_side, max(2, round(long_side * h / w))
    return max(2, round(long_side * w / h)), long_side
