"""Plain HTTP routes: health, Drive file downloads and the REST form of generate/job/creatives.

A route that refuses raises (``HTTPError``, or the ``DomainError`` of the operation it called);
the app's exception handlers answer it (web/errors.py)."""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from models import creatives as creative_ops
from models import drive, ledger_csv, media
from models import jobs as job_ops
from models.creatives import Creative
from models.errors import DomainError
from models.generation import GenerationRequest
from providers.catalog import CATALOG
from resolvers.creatives import specs
from resolvers.pagination import MAX_PAGE, paginate
from schema.creatives import CreateCreativeInput
from schema.wire import loads
from services import creatives as creative_service
from services import db
from services.auth import (
    Principal,
    authenticate,
    bearer,
    file_links,
    signed_result_urls,
    verify_file_signature,
)
from services.container import Services
from services.settings import Settings
from storage import MAX_PRESIGN_SECONDS, ObjectNotFound, serving_headers
from web import delivery, rest_input
from web.errors import HTTPError

FIELD_TYPES: dict[str, type] = {
    "duration_seconds": int,
    "source": dict,
    "modifications": dict,
    "inputs": list,
    "reference_file_ids": list,
    "variants": int,
    "seed": int,
    "client_metadata": dict,
    "placements": list,
    "allow_longer_than_placement": bool,
}
TYPE_NAMES: dict[type, str] = {
    str: "a string",
    int: "a whole number",
    dict: "a JSON object",
    list: "a JSON array",
    bool: "true or false",
}
# Every type takes these (models/batches.py: variants, seeds; the caller's own reference).
_COMMON_FIELDS = {"variants": None, "seed": None, "client_reference": None, "client_metadata": None}
_PLACEMENT_FIELDS = {"placements": None}
# A signed link's expiry: a unix time in ASCII digits (int() of 5,000 digits is an error, of "²" too).
EXPIRES = re.compile(r"[0-9]{1,12}")
POLL_HINT_SECONDS = {"image": 5, "tts": 5, "video": 10, "avatar": 15, "composite": 10}
GENERATE_FIELDS = {
    "image": {
        "prompt": "text",
        "aspect_ratio": None,
        "placement": None,
        "reference_file_ids": None,
        **_PLACEMENT_FIELDS,
        **_COMMON_FIELDS,
    },
    "video": {
        "prompt": "text",
        "aspect_ratio": None,
        "placement": None,
        "duration_seconds": None,
        "image_file_id": None,
        "allow_longer_than_placement": None,
        **_PLACEMENT_FIELDS,
        **_COMMON_FIELDS,
    },
    "avatar": {
        "script": "text",
        "avatar_id": None,
        "portrait_file_id": None,
        "voice_id": None,
        "aspect_ratio": None,
        "placement": None,
        **_PLACEMENT_FIELDS,
        **_COMMON_FIELDS,
    },
    "tts": {"text": "text", "voice_id": None, **_COMMON_FIELDS},
    "composite": {
        "prompt": "text",
        "template_id": None,
        "source": None,
        "modifications": None,
        "inputs": None,
        **_COMMON_FIELDS,
    },
}


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def _principal(request: Request) -> Principal | None:
    settings = services_of(request).settings
    return await authenticate(
        bearer(request.headers.get("authorization")),
        settings.secret,
        max_jwt_lifetime=settings.jwt_max_lifetime_seconds,
    )


async def _caller(request: Request, scope: str) -> Principal:
    """The authenticated caller holding ``scope`` (401 or 403 otherwise)."""
    principal = await _principal(request)
    if principal is None:
        raise HTTPError(401, "UNAUTHENTICATED", "send Authorization: Bearer <API key or JWT>")
    if scope not in principal.scopes:
        raise HTTPError(403, "FORBIDDEN", f"this credential lacks the {scope!r} scope")
    return principal


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    services = services_of(request)
    checks = {"database": await db.ping()}
    try:
        checks["redis"] = bool(await services.redis.ping())
    except Exception:
        checks["redis"] = False
    ok = all(checks.values())
    return JSONResponse({"status": "ok" if ok else "unavailable", **checks}, status_code=200 if ok else 503)


async def _file_to_serve(request: Request, *, thumbnail: bool = False) -> tuple[drive.DriveFile, int | None]:
    """The Drive file a /files/{id} link names, with a valid signature (then also the link's
    expiry) or with credentials of the file's team; 404 for anything else. A thumbnail's link
    opens the thumbnail only (``thumbnail=True``), never the file."""
    services = services_of(request)
    file_id = request.path_params["file_id"]
    q = request.query_params
    signed_until: int | None = None
    if q.get("signature") or q.get("expires"):
        if not EXPIRES.fullmatch(q.get("expires") or "0"):
            raise HTTPError(400, "VALIDATION_FAILED", "expires must be a unix time", ["expires"])
        if not verify_file_signature(
            file_id, q.get("expires"), q.get("signature"), services.settings.secret, thumbnail=thumbnail
        ):
            raise HTTPError(403, "FORBIDDEN", "the link is invalid or has expired")
        signed_until = int(q["expires"])
        file = await drive.ready_file(file_id)
        if file is not None:  # counted for the file's team: a shared link spends that team's download budget
            await services.limiter.download(file.team_id)
    else:
        principal = await _caller(request, "read")
        await services.limiter.download(principal.team_id, principal.api_key_id)
        file = await drive.team_file(principal.team_id, file_id)
    if file is None:
        raise HTTPError(404, "NOT_FOUND", "file not found")
    return file, signed_until


async def _serve(
    request: Request, key: str, content_type: str, name: str, signed_until: int | None
) -> Response:
    """Stored bytes for media players (web/delivery.py: ranges, validators, conditional requests),
    streamed from storage; with CH_STORAGE_REDIRECT on S3, a signed link answers 307 to a presigned GET."""
    storage = services_of(request).storage
    if signed_until is None:
        cache_control = "private, max-age=300"
    else:  # cached no longer than the link is valid; a file's bytes never change (storage/__init__.py)
        left = max(0, signed_until - int(time.time()))
        cache_control = f"private, max-age={left}, immutable"
        if services_of(request).settings.storage_redirect:
            url = await storage.presigned_get(key, ttl=left, filename=name, content_type=content_type)
            if url is not None:  # the presigned URL lives as long as the link (at most SigV4's 7 days)
                age = min(left, MAX_PRESIGN_SECONDS)
                return Response(
                    status_code=307, headers={"Location": url, "Cache-Control": f"private, max-age={age}"}
                )
    try:
        info = await storage.stat(key)
    except ObjectNotFound:
        raise HTTPError(404, "NOT_FOUND", "file not found") from None
    return delivery.serve(
        request,
        storage,
        key,
        info,
        content_type=content_type,
        headers={**serving_headers(content_type, name), "Cache-Control": cache_control},
    )


async def get_file(request: Request) -> Response:
    """A Drive file: with a valid signature, or with credentials of the file's team."""
    file, signed_until = await _file_to_serve(request)
    return await _serve(request, file.storage_key, file.content_type, file.name, signed_until)


async def get_thumbnail(request: Request) -> Response:
    """A Drive file's thumbnail (a small WebP: the image reduced, or a video's poster frame), served
    like the file: by its own link (``thumbnailUrl``) or the file's; 404 for a file without one (audio)."""
    file, signed_until = await _file_to_serve(request, thumbnail=True)
    if not file.thumbnail_key:
        raise HTTPError(404, "NOT_FOUND", "this file has no thumbnail")
    stem = file.name.rsplit(".", 1)[0] if "." in file.name else file.name
    name = f"{stem}.thumbnail.{media.extension_for(media.THUMBNAIL_TYPE)}"
    return await _serve(request, file.thumbnail_key, media.THUMBNAIL_TYPE, name, signed_until)


async def read_json_object(request: Request) -> dict[str, Any]:
    try:
        body = loads(await request.body())
    except ValueError as exc:
        raise HTTPError(400, "VALIDATION_FAILED", f"the body must be a JSON object ({exc})") from None
    if not isinstance(body, dict):
        raise HTTPError(400, "VALIDATION_FAILED", "the body must be a JSON object")
    return body


async def rest_generate(request: Request) -> JSONResponse:
    job_type = request.path_params["type"]
    if job_type not in GENERATE_FIELDS:
        raise HTTPError(
            404, "NOT_FOUND", f"unknown generation type {job_type!r}; one of {', '.join(GENERATE_FIELDS)}"
        )
    principal = await _caller(request, "generate")
    body = await read_json_object(request)
    fields: dict[str, Any] = {}
    for name, target in GENERATE_FIELDS[job_type].items():
        if name in body and body[name] is not None:
            expected = FIELD_TYPES.get(name, str)
            if not isinstance(body[name], expected) or (
                expected is not bool and isinstance(body[name], bool)
            ):
                raise HTTPError(400, "VALIDATION_FAILED", f"{name} must be {TYPE_NAMES[expected]}", [name])
            fields[target or name] = body[name]
    for name in ("provider", "drive_folder_id", "idempotency_key"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise HTTPError(400, "VALIDATION_FAILED", f"{name} must be a string", [name])
    if any(not isinstance(i, str) for i in fields.get("placements", ())):
        raise HTTPError(400, "VALIDATION_FAILED", "placements must hold strings", ["placements"])
    if any(not isinstance(i, str) for i in fields.get("reference_file_ids", ())):
        raise HTTPError(
            400, "VALIDATION_FAILED", "reference_file_ids must hold strings", ["reference_file_ids"]
        )
    if "inputs" in fields:
        fields["inputs"] = [
            {"name": i.get("name"), "jobId": i.get("job_id"), "fileId": i.get("file_id")}
            for i in fields["inputs"] or []
            if isinstance(i, dict)
        ]
    provider = body.get("provider")
    if provider is not None and (not isinstance(provider, str) or provider.lower() not in CATALOG):
        raise HTTPError(400, "PROVIDER_NOT_SUPPORTED", f"unknown provider {provider!r}", ["provider"])
    submitted = await services_of(request).generate_batch(
        principal,
        GenerationRequest(
            type=job_type,
            team_id=principal.team_id,
            user_id=principal.user_id,
            api_key_id=principal.api_key_id,
            provider=provider.lower() if provider else None,
            drive_folder_id=body.get("drive_folder_id"),
            settings=body.get("settings"),
            idempotency_key=request.headers.get("idempotency-key") or body.get("idempotency_key"),
            **fields,
        ),
    )
    job = submitted.jobs[0]
    answer: dict[str, Any] = {
        "job_id": str(job.id),
        "status": job.status.value,
        "job_ids": [str(row.id) for row in submitted.jobs],  # every job: variants × placements
        "batch_id": str(submitted.batch.id) if submitted.batch else None,
    }
    metadatas = [row.metadata for row in submitted.jobs]
    if warnings := job_ops.distinct_notes(metadatas, job_ops.WARNINGS):
        answer["warnings"] = warnings  # the model shuts down soon, or was replaced (providers/lifecycle.py)
    if adjusted := job_ops.distinct_notes(metadatas, job_ops.ADJUSTMENTS):
        answer["placement_warnings"] = adjusted  # the nearest ratio/duration made for a placement
    return JSONResponse(answer, status_code=202)


async def rest_job(request: Request) -> JSONResponse:
    principal = await _caller(request, "read")
    await services_of(request).limiter.read(principal)
    job = await job_ops.get_for_team(principal.team_id, request.path_params["job_id"])
    if job is None:
        raise HTTPError(404, "NOT_FOUND", "job not found")
    body = await job_json(principal.team_id, job.snapshot(), services_of(request).settings)
    headers = {} if job.is_terminal else {"Retry-After": str(POLL_HINT_SECONDS[job.type])}
    return JSONResponse(body, headers=headers)


async def job_json(team_id: uuid.UUID, snapshot: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """A job in the REST form: its snapshot, the result URLs signed, and its outputs as Drive files."""
    body = dict(snapshot)
    outputs = await drive.job_outputs(team_id, uuid.UUID(body["id"])) if body["result_urls"] else []
    body["result_urls"] = signed_result_urls(body["result_urls"], settings)
    body["outputs"] = [file_json(row, settings) for row in outputs]  # the same files, with their facts
    return body


# -- creatives -----------------------------------------------------------------------------------
async def creative_json(principal: Principal, row: Creative, request: Request) -> dict[str, Any]:
    """A creative in the REST form: the GraphQL Creative's fields in snake_case, each job as
    ``GET …/jobs/{id}`` answers it."""
    snaps = await creative_ops.job_snapshots(row)
    settings = services_of(request).settings
    by_key = {node["key"]: snaps[node["job_id"]] for node in row.nodes if node["job_id"] in snaps}
    metadatas = [snap.get("metadata") for snap in by_key.values()]
    return {
        "id": str(row.id),
        "recipe": row.recipe,
        "status": creative_ops.status(by_key.values()).value.lower(),  # as its jobs say it
        "estimated_cost_cents": row.estimated_cost_cents,
        "cost_cents": sum(snap["cost_cents"] for snap in by_key.values()),
        "created_at": row.created_at.isoformat(),
        # what its jobs' generate requests would have said: a model shutting down, a placement's
        # nearest ratio or duration made instead (each once)
        "warnings": job_ops.distinct_notes(metadatas, job_ops.WARNINGS),
        "placement_warnings": job_ops.distinct_notes(metadatas, job_ops.ADJUSTMENTS),
        "nodes": [
            {
                "key": node["key"],
                "depends_on": list(node["depends_on"]),
                "waiting_for": creative_ops.waiting_for(node, by_key),
                "job": await job_json(principal.team_id, by_key[node["key"]], settings),
            }
            for node in row.nodes
            if node["key"] in by_key
        ],
    }


async def rest_create_creative(request: Request) -> JSONResponse:
    principal = await _caller(request, "generate")
    body = await read_json_object(request)
    if key := request.headers.get("idempotency-key"):  # the header first, as for generate
        body["idempotency_key"] = key
    data = rest_input.build(CreateCreativeInput, body, [])
    services = services_of(request)
    try:
        recipe, nodes, nodes_path = await specs(services, principal, data)
        row = await creative_service.create(
            services, principal, recipe, nodes, nodes_path, data.idempotency_key
        )
    except DomainError as exc:
        raise rest_input.rest_path(exc) from None
    return JSONResponse(await creative_json(principal, row, request), status_code=202)


async def rest_creative(request: Request) -> JSONResponse:
    principal = await _reader(request)
    row = await creative_ops.get_for_team(principal.team_id, request.path_params["creative_id"])
    if row is None:
        raise HTTPError(404, "NOT_FOUND", "creative not found")
    return JSONResponse(await creative_json(principal, row, request))


async def rest_cancel_creative(request: Request) -> JSONResponse:
    principal = await _caller(request, "generate")
    try:
        row = await creative_service.cancel(
            services_of(request), principal, request.path_params["creative_id"]
        )
    except DomainError as exc:
        raise rest_input.rest_path(exc) from None
    return JSONResponse(await creative_json(principal, row, request))


# -- the Drive, read -----------------------------------------------------------------------------
def file_json(row: drive.DriveFile, settings: Settings) -> dict[str, Any]:
    """A Drive file in the REST form: the GraphQL DriveFile's fields in snake_case (the row's
    snapshot and its signed links, as resolvers/outputs.py builds the GraphQL one)."""
    snap = row.snapshot()
    url, thumbnail_url = file_links(snap["id"], snap.pop("has_thumbnail"), settings)
    return {**snap, "url": url, "thumbnail_url": thumbnail_url}


async def _reader(request: Request) -> Principal:
    principal = await _caller(request, "read")
    await services_of(request).limiter.read(principal)
    return principal


async def rest_ledger_csv(request: Request) -> StreamingResponse:
    """The ledger as CSV (models/ledger_csv.py), streamed: ``from``, ``to`` (ISO 8601, to
    exclusive), ``kinds`` (comma-separated). The billing scope, as the ledger query."""
    principal = await _caller(request, "billing")
    await services_of(request).limiter.read(principal)
    q = request.query_params
    start = ledger_csv.parse_time(q.get("from"), "from")
    end = ledger_csv.parse_time(q.get("to"), "to")
    ledger_csv.check_range(start, end)
    kinds = ledger_csv.parse_kinds(q.get("kinds"))
    name = f"creative-hub-ledger-{datetime.now(UTC):%Y%m%d-%H%M%S}.csv"
    return StreamingResponse(
        ledger_csv.rows(principal.team_id, start=start, end=end, kinds=kinds),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}"', "cache-control": "no-store"},
    )


async def rest_drive_folders(request: Request) -> JSONResponse:
    principal = await _reader(request)
    tree = await drive.folder_tree(principal.team_id)
    return JSONResponse({"folders": [node.snapshot() for node in tree]})


def _first(value: str | None) -> int | None:
    if value is None:
        return None
    if not re.fullmatch(r"[0-9]{1,4}", value):
        raise HTTPError(400, "VALIDATION_FAILED", f"first must be between 1 and {MAX_PAGE}", ["first"])
    return int(value)


async def rest_drive_files(request: Request) -> JSONResponse:
    """A page of the team's files, newest first, with the total over every page."""
    principal = await _reader(request)
    q = request.query_params
    query = await drive.files_query(
        principal.team_id,
        folder_id=q.get("folder_id"),
        kind=q.get("kind"),
        job_id=q.get("job_id"),
        name_contains=q.get("name"),
    )
    settings = services_of(request).settings
    page = await paginate(query, _first(q.get("first")), q.get("after"), lambda row: file_json(row, settings))
    return JSONResponse(
        {
            "files": [edge.node for edge in page.edges],
            "total_count": await query.count(),
            "has_next_page": page.page_info.has_next_page,
            "end_cursor": page.page_info.end_cursor,
        }
    )


async def rest_drive_file(request: Request) -> JSONResponse:
    principal = await _reader(request)
    row = await drive.team_file(principal.team_id, request.path_params["file_id"])
    if row is None:
        raise HTTPError(404, "NOT_FOUND", "file not found")
    return JSONResponse(file_json(row, services_of(request).settings))


async def rest_drive_usage(request: Request) -> JSONResponse:
    principal = await _reader(request)
    used = await drive.usage(principal.team_id, services_of(request).settings.drive_quota_bytes)
    return JSONResponse(
        {
            "used_bytes": used.used_bytes,
            "quota_bytes": used.quota_bytes,
            "available_bytes": used.available_bytes,
        }
    )


routes = [
    Route("/healthz", healthz),
    Route("/readyz", readyz),
    Route("/files/{file_id}", get_file),
    Route("/files/{file_id}/thumbnail", get_thumbnail),
    Route("/api/v1/creative-hub/generate/{type}", rest_generate, methods=["POST"]),
    Route("/api/v1/creative-hub/jobs/{job_id}", rest_job),
    Route("/api/v1/creative-hub/creatives", rest_create_creative, methods=["POST"]),
    Route("/api/v1/creative-hub/creatives/{creative_id}", rest_creative),
    Route("/api/v1/creative-hub/creatives/{creative_id}/cancel", rest_cancel_creative, methods=["POST"]),
    Route("/api/v1/creative-hub/ledger.csv", rest_ledger_csv),
    Route("/api/v1/drive/folders", rest_drive_folders),
    Route("/api/v1/drive/files", rest_drive_files),
    Route("/api/v1/drive/files/{file_id}", rest_drive_file),
    Route("/api/v1/drive/usage", rest_drive_usage),
]
