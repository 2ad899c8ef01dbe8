"""The shape every provider adapter has, and the small vocabulary the worker understands.

An adapter turns one of our jobs (a :class:`JobSpec`) into its provider's real HTTP API and
maps the provider's answers onto three outcomes the worker acts on:

* :class:`Submitted` / :class:`Pending` — keep waiting (poll again after ``retry_after`` seconds);
* :class:`Done` — outputs to copy into Drive, plus the usage the price is computed from;
* an exception from :mod:`providers.errors` — retry later, or fail the job free.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import httpx


@dataclass(frozen=True)
class InputFile:
    """A Drive file the user referred to (for example the first frame of an image-to-video job)."""

    file_id: str
    content_type: str
    data: bytes


MB = 1024 * 1024
TYPE_NAMES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WebP", "image/gif": "GIF"}


@dataclass(frozen=True)
class ImageSlot:
    """What a provider takes in one image input of a request (a video's first frame, reference images,
    a portrait): checked against the Drive file's recorded facts when the job is submitted, before
    anything is held, so a file the provider would refuse is a user error, never a failed paid job.

    ``max_bytes`` is the file's size as stored; where the provider caps the base64 or data-URI form
    instead, the adapter declares the raw size that fits it. Sources: docs/providers.md, per provider."""

    types: tuple[str, ...]  # content types the provider decodes
    max_bytes: int
    max_count: int = 1
    min_side: int = 0  # pixels, each side
    max_side: int = 0  # pixels, each side; 0: no cap
    max_ratio: float = math.inf  # longer side / shorter side
    max_pixels: int = 0  # width × height; 0: no cap

    def problem(
        self, content_type: str, size: int, width: int | None, height: int | None, taker: str = "it"
    ) -> str | None:
        """Why this file cannot fill the slot ("is …; <taker> takes …"), or ``None``."""
        if content_type not in self.types:
            kinds = ", ".join(TYPE_NAMES.get(t, t) for t in self.types)
            return f"is {content_type}; {taker} takes {kinds} images"
        if size > self.max_bytes:
            return f"is {size / MB:.1f} MB; {taker} takes images of at most {self.max_bytes / MB:g} MB"
        if not (width and height):
            return None
        if self.min_side and min(width, height) < self.min_side:
            return f"is {width}×{height}; {taker} takes images of at least {self.min_side} px per side"
        if self.max_side and max(width, height) > self.max_side:
            return f"is {width}×{height}; {taker} takes images of at most {self.max_side} px per side"
        if self.max_pixels and width * height > self.max_pixels:
            return f"is {width}×{height}; {taker} takes images of at most {self.max_pixels:,} pixels"
        ratio = max(width, height) / min(width, height)
        if ratio > self.max_ratio:
            return f"is {width}×{height}; {taker} takes aspect ratios up to {self.max_ratio:g}:1 either way"
        return None


def base64_of(file: InputFile) -> str:
    """The file's bytes as plain base64 (no ``data:`` prefix)."""
    return base64.b64encode(file.data).decode("ascii")


def data_uri(file: InputFile) -> str:
    """The file as a ``data:<type>;base64,…`` URI."""
    return f"data:{file.content_type};base64,{base64_of(file)}"


def raw_bytes_fitting(encoded_limit: int, prefix: int = 0) -> int:
    """The largest file whose base64 form (after a ``prefix`` of that many characters) stays within
    ``encoded_limit`` characters: base64 makes 4 characters of every 3 bytes."""
    return (encoded_limit - prefix) // 4 * 3


# The image inputs a job may take, in ``JobSpec.input_files`` order: the name of the ``ImageSlot``
# an adapter class declares for it, and the job param naming its Drive file (or files, a list).
INPUT_SLOTS: tuple[tuple[str, str], ...] = (
    ("start_image", "image_file_id"),
    ("reference_images", "reference_file_ids"),
    ("portrait_image", "portrait_file_id"),
)


def image_slots(adapter_cls: type) -> dict[str, ImageSlot | None]:
    """What an adapter class takes in each image input (``INPUT_SLOTS`` order), None where nothing."""
    return {slot: getattr(adapter_cls, slot, None) for slot, _ in INPUT_SLOTS}


def input_file_ids(params: dict[str, Any]) -> list[str]:
    """The Drive files a job's params name, in ``JobSpec.input_files`` order."""
    ids: list[str] = []
    for _, param in INPUT_SLOTS:
        value = params.get(param)
        for file_id in value if isinstance(value, list) else [value]:
            if file_id:
                ids.append(str(file_id))
    return ids


@dataclass(frozen=True)
class JobSpec:
    """Everything an adapter needs to submit one job; built by the worker from the creative_job row.

    ``params`` holds the normalised inputs, validated before the job was accepted:
    ``aspect_ratio`` ("16:9"), ``duration_seconds`` (int), ``voice_id``, ``avatar_id``,
    ``template_id``, ``source`` (dict), ``modifications`` (dict), ``output_format`` and the
    user's free-form ``settings`` under ``settings``.

    ``input_files`` holds the Drive files the job takes, in this order (``INPUT_SLOTS``,
    :func:`input_file_ids`): the video's first frame (``image_file_id``), the image's references
    (``reference_file_ids``, in the user's order), the avatar's portrait (``portrait_file_id``);
    each adapter reads the one slot its job type has.
    """

    job_id: str
    type: str  # "image" | "video" | "avatar" | "tts" | "composite"
    provider: str  # "flux_2_pro", "runway_gen4", …
    prompt: str | None
    params: dict[str, Any] = field(default_factory=dict)
    input_files: tuple[InputFile, ...] = ()


@dataclass(frozen=True)
class Output:
    """One output of a finished job: a URL to download, or bytes a synchronous API returned."""

    url: str | None = None
    data: bytes | None = None
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)  # needed to download (e.g. an API key)


@dataclass(frozen=True)
class Usage:
    """What the provider actually produced, for the final price."""

    units: float  # images, seconds, characters, megapixels or renders, per the price table's unit
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Submitted:
    """The provider accepted the work; ``task_id`` must be persisted before anything waits."""

    task_id: str
    retry_after: float = 2.0
    state: dict[str, Any] = field(default_factory=dict)  # e.g. BFL's polling_url, kept with the job


@dataclass(frozen=True)
class Pending:
    retry_after: float = 2.0
    # The provider's own figure, 0–1 (progress_fraction), or None where it gives none.
    progress: float | None = None


def progress_fraction(value: Any) -> float | None:
    """A provider's progress figure as a fraction 0–1, or ``None`` (no usable figure: missing,
    text, NaN, or outside 0–1). Both providers that report one use a fraction: Runway documents
    "a floating point number between 0 and 1"; BFL's ``ResultResponse.progress`` is "a number",
    and clients of it validate 0.0–1.0 (ComfyUI's ``comfy_api_nodes/apis/bfl_api.py``). So 1 is
    the whole task, never 1 %, and a figure above 1 is not guessed to be a percentage
    (docs/providers.md, Typical generation times and progress)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    if value < 0 or value > 1:
        return None
    return float(value)


@dataclass(frozen=True)
class Done:
    outputs: tuple[Output, ...]
    usage: Usage | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


class Adapter(Protocol):
    """One provider family's client. Instances are cheap; the httpx client is shared per process."""

    family: ClassVar[str]  # "bfl", "runway", "heygen", "openai", "creatomate", …
    # True when the provider's API can stop a task it accepted (Runway's DELETE /v1/tasks/{id});
    # the default, False, is what most providers offer: once submitted, the task runs and is billed.
    can_cancel: ClassVar[bool]
    # What the provider takes as uploaded inputs; None: it takes none of that kind.
    start_image: ClassVar[ImageSlot | None]
    reference_images: ClassVar[ImageSlot | None]
    portrait_image: ClassVar[ImageSlot | None]

    def __init__(
        self, client: httpx.AsyncClient, base_url: str, api_key: str, *, poll_interval_scale: float = 1.0
    ) -> None: ...

    async def submit(self, job: JobSpec) -> Submitted | Done:
        """Start the work. Synchronous APIs return :class:`Done` directly."""
        ...

    async def poll(self, job: JobSpec, task_id: str, state: dict[str, Any]) -> Pending | Done:
        """Ask how the task is doing; raise from :mod:`providers.errors` on failure."""
        ...

    async def cancel(self, job: JobSpec, task_id: str, state: dict[str, Any]) -> bool:
        """Ask the provider to stop the task; ``True`` only when the provider confirmed it (the
        worker records ``provider_canceled`` then). Called only when ``can_cancel`` is set."""
        ...


@dataclass(frozen=True)
class ProviderCheck:
    """What one read-only call to a provider says about it (``python main.py admin providers check``).

    ``key_accepted`` is ``None`` when the provider could not be reached; ``model_listed`` is ``None``
    when the endpoint called does not list models (BFL's credits, HeyGen's user); ``shutdown_date``
    is the provider's own date when it reports one (OpenAI's ``GET /v1/models/{id}``)."""

    reachable: bool
    key_accepted: bool | None = None
    model: str | None = None
    model_listed: bool | None = None
    shutdown_date: str | None = None
    endpoint: str = ""  # "GET /v1/credits": which call was made
    detail: str = ""  # why it will not work, when it will not
