"""``PUT /uploads/{file_id}``: the bytes of a large upload, sent to the API itself when Drive files
are on local storage (on S3 ``createUpload`` hands out a presigned URL of the bucket instead).

The URL ``createUpload`` returned authorises the request (an HMAC over the file id and the expiry,
services.auth.sign_upload_path): no other credential is needed, so a browser can PUT a file it was
given a URL for. The body streams to storage (never whole in memory) and must be exactly the size
declared in ``createUpload``: a wrong Content-Length is refused before a byte is read, and a body
that runs over or ends short leaves nothing stored. The content is checked by ``completeUpload``.
The request body size limit (CH_MAX_BODY_BYTES) does not apply here: the declared size does."""

from __future__ import annotations

import time

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from models import drive
from services.auth import upload_signature_valid
from services.container import Services
from web.errors import HTTPError
from web.rest import EXPIRES

PATH_PREFIX = "/uploads/"


async def put_upload(request: Request) -> Response:
    services: Services = request.app.state.services
    file_id = request.path_params["file_id"]
    expires, signature = request.query_params.get("expires"), request.query_params.get("signature")
    if not EXPIRES.fullmatch(expires or ""):
        raise HTTPError(400, "VALIDATION_FAILED", "expires must be a unix time", ["expires"])
    if not upload_signature_valid(file_id, expires, signature, services.settings.secret):
        raise HTTPError(
            403, "FORBIDDEN", "the upload URL is invalid: PUT to the url createUpload returned, unchanged"
        )
    if int(expires or 0) < time.time():
        raise HTTPError(
            403, "FORBIDDEN", "the upload URL has expired: start the upload again with createUpload"
        )
    declared = request.headers.get("content-length")
    if declared is not None and not (declared.isdigit() and len(declared) <= 15):
        raise HTTPError(
            400, "VALIDATION_FAILED", "Content-Length must be a number of bytes", ["Content-Length"]
        )
    try:
        file = await drive.receive_upload(
            services.storage,
            file_id,
            request.stream(),
            length=int(declared) if declared is not None else None,
        )
    except ClientDisconnect:  # nothing was stored (receive_upload), and nobody is left to answer
        return Response(status_code=400)
    return JSONResponse(
        {
            "file_id": str(file.id),
            "size_bytes": file.size_bytes,
            "status": "received",
            "next": "call completeUpload with this fileId",
        }
    )


routes = [Route(PATH_PREFIX + "{file_id}", put_upload, methods=["PUT"])]
