"""GraphQL types of Drive uploads: the ``Upload`` of a small file (the GraphQL multipart request spec)
and the target a large upload's bytes are PUT to. Data only; resolvers/uploads.py fills them."""

from __future__ import annotations

from datetime import datetime

import strawberry

from schema.drive import BigInt
from schema.types import UserError


@strawberry.type(description="A header the upload request must carry")
class UploadHeader:
    name: str
    value: str


@strawberry.type(
    description="Where a large upload's bytes go: send `method url` with exactly these headers and "
    "the file as the body (exactly sizeBytes bytes) before expiresAt, then call completeUpload(fileId)"
)
class UploadTarget:
    file_id: strawberry.ID = strawberry.field(description="The file to complete; pending until then")
    url: str = strawberry.field(
        description="A presigned URL of the object store (S3), or a signed URL of this API (local "
        "storage); it carries its own authorisation: send no Authorization header"
    )
    method: str = strawberry.field(description="Always PUT")
    headers: list[UploadHeader]
    size_bytes: BigInt = strawberry.field(description="The body must be exactly this many bytes")
    expires_at: datetime = strawberry.field(description="The URL is refused after this")


@strawberry.input
class CreateUploadInput:
    name: str = strawberry.field(description="The file's name; sanitised, its extension set by its content")
    content_type: str = strawberry.field(
        description="image/*, video/* or audio/*: picks the size cap; the content decides what the file is"
    )
    size_bytes: BigInt = strawberry.field(description="Exactly the bytes that will be PUT")
    folder_id: strawberry.ID | None = strawberry.field(
        default=None, description="Default: the default folder"
    )


@strawberry.type
class CreateUploadPayload:
    upload: UploadTarget | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
