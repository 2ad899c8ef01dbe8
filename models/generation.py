"""Generation requests: the one place where input is checked against the provider's limits and priced.

GraphQL mutations and the REST routes both build a :class:`GenerationRequest` and call
:func:`validate`, which returns a :class:`~models.jobs.NewJob` or raises a :class:`DomainError`."""

from __future__ import annotations

import json
import math
import re
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from models import drive, library, placements, pricing
from models.errors import DomainError, ErrorCode
from models.jobs import CreativeJob, JobStatus, NewJob
from providers import lifecycle, options, registry
from providers.base import ImageSlot, image_slots
from providers.catalog import (
    AVATAR,
    CATALOG,
    COMPOSITE,
    IMAGE,
    PLACEMENTS,
    TTS,
    VIDEO,
    ProviderSpec,
    default_provider,
)
from providers.errors import RejectedError

MAX_SETTINGS_BYTES = 16 * 1024
MAX_SOURCE_BYTES = 256 * 1024
MAX_IDEMPOTENCY_KEY = 255
MAX_CLIENT_REFERENCE = 255
MAX_CLIENT_METADATA_BYTES = 4 * 1024
# The first-class ``seed`` input: what a GraphQL Int holds (providers take up to 2^32 - 1 in settings).
MAX_SEED = 2**31 - 1
MAX_COMPOSITE_INPUTS = 100  # each is looked up: bounded before the first lookup
MAX_REFERENCE_FILES = 16  # the most any image provider takes (OpenAI's edits); bounded before lookups
# Megapixels assumed for an input image whose size was not recorded (priced, never under-charged).
UNKNOWN_INPUT_MP = 20.0
# Element types of a RenderScript that a composite input (a file URL) can fill, by the file kind.
COMPOSITE_MEDIA = {"image": "image/", "video": "video/", "audio": "audio/"}
_RATIO = re.compile(r"^[1-9][0-9]{0,3}:[1-9][0-9]{0,3}$")
# Text no database column takes: NUL (PostgreSQL refuses it) and lone surrogates (not encodable).
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
# Per-type name of the text field, as clients know it.
TEXT_FIELD = {IMAGE: "prompt", VIDEO: "prompt", AVATAR: "script", TTS: "text", COMPOSITE: "prompt"}


@dataclass
class GenerationRequest:
    type: str
    team_id: uuid.UUID
    user_id: uuid.UUID
    provider: str | None = None
    text: str | None = None
    aspect_ratio: str | None = None
    placement: str | None = None
    duration_seconds: int | None = None
    image_file_id: str | None = None
    reference_file_ids: list[str] = field(default_factory=list)
    portrait_file_id: str | None = None
    avatar_id: str | None = None
    voice_id: str | None = None
    template_id: str | None = None
    source: Any = None
    modifications: Any = None
    inputs: list[dict[str, Any]] = field(default_factory=list)
    drive_folder_id: str | None = None
    settings: Any = None
    idempotency_key: str | None = None
    # Batches (models/batches.py): a request for several variants and/or placements is planned
    # as one GenerationRequest per job (variants 1, one placement, its seed) and validated each.
    variants: int = 1
    placements: list[str] | None = None
    seed: int | None = None
    allow_longer_than_placement: bool = False
    client_reference: str | None = None
    client_metadata: Any = None
    # Where this job's placement came from, for error paths: ("placements", "1") in a batch.
    placement_path: tuple[str, ...] = ("placement",)
    # A seed the batch picked for a variant (not the caller's): recorded, not part of the request.
    seed_is_auto: bool = False
    # The API key making the request (None: a JWT): recorded on the job for per-key spend caps.
    api_key_id: uuid.UUID | None = None
    # Set by :func:`serving_provider`: the provider was chosen for the placements because the
    # type's default cannot serve them (a PROVIDER_CHOSEN note on each job).
    provider_note: dict[str, Any] | None = None


@dataclass(frozen=True)
class Assumed:
    """An estimate's stand-ins for what a generate request names and :func:`validate` looks up:
    the files (a start image, reference images, a portrait) are taken as given and accepted, the
    references' megapixels as stated, and no Drive folder or library is read. Every other rule,
    and the price, are the generate request's own (``estimateCost``; models/batches.py)."""

    reference_megapixels: float | None = None


ASSUMED_FOLDER = uuid.UUID(int=0)  # an estimate's jobs land nowhere


def _invalid(message: str, *path: str) -> DomainError:
    return DomainError(ErrorCode.VALIDATION_FAILED, message, ["input", *path])


def check_text(value: Any, *path: str) -> None:
    """Refuse NUL and lone surrogates anywhere in a client's text or JSON (keys too), and numbers
    JSON cannot hold (a GraphQL literal ``1e400`` is read as infinity), with VALIDATION_FAILED,
    before anything reaches a database. The walk is iterative: any depth."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if _UNSTORABLE.search(item):
                raise _invalid(f"{path[-1]} contains a NUL character or a lone surrogate", *path)
        elif isinstance(item, float) and not math.isfinite(item):
            raise _invalid(f"{path[-1]} holds a number out of range", *path)
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)


def _check_texts(req: GenerationRequest) -> None:
    text_field = TEXT_FIELD.get(req.type, "prompt")
    for name, value in (
        (text_field, req.text),
        ("provider", req.provider),
        ("aspectRatio", req.aspect_ratio),
        ("placement", req.placement),
        ("imageFileId", req.image_file_id),
        ("referenceFileIds", req.reference_file_ids),
        ("portraitFileId", req.portrait_file_id),
        ("avatarId", req.avatar_id),
        ("voiceId", req.voice_id),
        ("templateId", req.template_id),
        ("source", req.source),
        ("modifications", req.modifications),
        ("inputs", req.inputs),
        ("driveFolderId", req.drive_folder_id),
        ("settings", req.settings),
        ("idempotencyKey", req.idempotency_key),
        ("clientReference", req.client_reference),
        ("clientMetadata", req.client_metadata),
        ("placements", req.placements),
    ):
        check_text(value, name)


def _uuid(value: str, *path: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise DomainError(ErrorCode.NOT_FOUND, f"{path[-1]} not found", ["input", *path]) from None


def named_provider(req: GenerationRequest) -> ProviderSpec:
    """The provider the request names (or its type's default): PROVIDER_NOT_SUPPORTED on
    ``provider`` when it does not generate this type or is not available. What a recipe checks
    before it reads the provider's libraries."""
    return _spec(req)


def _spec(req: GenerationRequest) -> ProviderSpec:
    if req.provider is None:
        return default_provider(req.type)
    spec = CATALOG.get(req.provider)
    if spec is None or spec.type != req.type:
        raise DomainError(
            ErrorCode.PROVIDER_NOT_SUPPORTED,
            f"{req.provider} does not generate {req.type}; see the providers query",
            ["input", "provider"],
        )
    if not registry.is_supported(spec.provider):
        raise DomainError(
            ErrorCode.PROVIDER_NOT_SUPPORTED, f"{spec.provider} is not available yet", ["input", "provider"]
        )
    return spec


def canonical_placements(req: GenerationRequest) -> GenerationRequest:
    """The request with its placements named as the table names them: any case is accepted
    (``story``), in every form (models/placements.py, :func:`~models.placements.canonical`)."""
    placement = placements.canonical(req.placement) if isinstance(req.placement, str) else req.placement
    named = req.placements
    if isinstance(named, list):
        named = [placements.canonical(p) if isinstance(p, str) else p for p in named]
    if placement == req.placement and named == req.placements:
        return req
    return replace(req, placement=placement, placements=named)


PROVIDER_CHOSEN = "PROVIDER_CHOSEN"


def serving_provider(req: GenerationRequest, cfg: lifecycle.LifecycleConfig) -> GenerationRequest:
    """A request naming no provider, for placements the type's default cannot serve (Runway renders
    no square from text): the first provider of the type, in catalogue order, that renders every
    placement asked for exactly (its ratio and its target duration), else the first that serves
    them all at its nearest; the request names it, with a PROVIDER_CHOSEN note for each job. The
    default is kept when it serves them, and when no provider does (then it refuses, saying why).
    A request that names its provider is never changed: it is refused when that one cannot serve."""
    if req.provider is not None or req.provider_note is not None:
        return req
    asked = req.placements if req.placements is not None else [req.placement] if req.placement else []
    wanted = [p for p in asked if isinstance(p, str) and p in PLACEMENTS]
    if not wanted:
        return req
    with_image = req.type == VIDEO and req.image_file_id is not None

    def running(provider: str) -> ProviderSpec | None:
        try:
            return CATALOG[lifecycle.resolve(provider, cfg).provider]
        except lifecycle.ModelShutDown:
            return None

    default_name = lifecycle.default_for(req.type, cfg)
    default = running(default_name)
    missing = placements.unserved(default, wanted, with_image=with_image) if default else None
    if default is None or missing is None:
        return req
    others = [
        (spec.provider, served)
        for spec in CATALOG.values()
        if spec.type == req.type
        and spec.provider != default_name
        and registry.is_supported(spec.provider)
        and (served := running(spec.provider)) is not None
        and placements.unserved(served, wanted, with_image=with_image) is None
    ]
    if not others:
        return req
    duration = req.duration_seconds
    exact = [
        name
        for name, spec in others
        if placements.native(spec, wanted, with_image=with_image, duration=duration)
    ]
    chosen = exact[0] if exact else others[0][0]
    reason = placements.not_served_reason(default, missing, with_image=with_image)
    note = {
        "code": PROVIDER_CHOSEN,
        "placement": missing,
        "provider": chosen,
        "requested": default_name,
        "chosen": chosen,
        "message": f"{default_name} (the default) cannot render {reason}; {chosen} was used",
    }
    return replace(req, provider=chosen, provider_note=note)


def _json_object(value: Any, limit: int, *path: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _invalid(f"{path[-1]} must be a JSON object", *path)
    if len(json.dumps(value)) > limit:
        raise _invalid(f"{path[-1]} is larger than {limit // 1024} KiB", *path)
    return value


def _text(req: GenerationRequest, spec: ProviderSpec) -> str:
    name = TEXT_FIELD[req.type]
    text = (req.text or "").strip()
    if not text:
        raise _invalid(f"{name} must not be empty", name)
    if len(text) > spec.max_text_chars:
        raise _invalid(
            f"{name} is {len(text)} characters; {spec.provider} accepts at most {spec.max_text_chars}", name
        )
    return text


def _adjusted(
    adjustments: list[dict[str, Any]], code: str, req: GenerationRequest, spec: ProviderSpec, **facts: Any
) -> None:
    adjustments.append({"code": code, "placement": req.placement, "provider": spec.provider, **facts})


def _aspect_ratio(
    req: GenerationRequest, spec: ProviderSpec, adjustments: list[dict[str, Any]]
) -> str | None:
    """The placement's ratio (the nearest the provider renders, with an adjustment saying so; an
    ``aspectRatio`` beside it must be the same ratio), else the ratio asked for (refused when the
    provider lacks it), else the provider's default."""
    if req.placement is not None and req.placement not in PLACEMENTS:
        raise _invalid(f"unknown placement {req.placement}", *req.placement_path)
    if not spec.aspect_ratios:
        return None
    if req.placement is not None and req.aspect_ratio is not None:
        conflict = placements.implied_ratio_conflict(req.placement, req.aspect_ratio)
        if conflict is not None:
            raise _invalid(conflict, "aspectRatio")
    if req.placement is not None:  # its ratio, or the nearest the provider renders
        wanted = placements.target(req.placement).aspect_ratio
        with_image = req.type == VIDEO and req.image_file_id is not None
        chosen = placements.nearest_ratio(wanted, placements.ratios(spec, with_image=with_image))
        if chosen is None:
            raise _invalid(
                placements.unservable_message(spec, req.placement, with_image=with_image), *req.placement_path
            )
        if chosen != wanted:
            _adjusted(
                adjustments,
                "ASPECT_RATIO_ADJUSTED",
                req,
                spec,
                requested=wanted,
                chosen=chosen,
                message=f"{spec.provider} does not render {wanted} ({req.placement}); "
                f"made {chosen}, the nearest it supports",
            )
        return chosen
    ratio = req.aspect_ratio or spec.default_aspect_ratio
    assert ratio is not None
    if not _RATIO.match(ratio):
        raise _invalid('aspectRatio must look like "W:H", for example "16:9"', "aspectRatio")
    if ratio not in spec.aspect_ratios:
        raise _invalid(
            f"{spec.provider} does not support aspect ratio {ratio}; it supports {', '.join(spec.aspect_ratios)}",
            "aspectRatio",
        )
    return ratio


def _duration(req: GenerationRequest, spec: ProviderSpec, adjustments: list[dict[str, Any]]) -> int:
    """A video's seconds: the ones asked for, else the placement's target (the nearest the provider
    renders), else the provider's default. Longer than the placement's target is refused unless
    ``allowLongerThanPlacement``: a 15 s video for a 5 s Story pays for seconds nobody sees."""
    assert spec.default_duration is not None
    if req.placement is None:
        duration = req.duration_seconds or spec.default_duration
    elif req.duration_seconds is None:
        goal = placements.target(req.placement).duration_seconds
        duration = placements.nearest_duration(goal, spec.durations)
        if duration != goal:
            _adjusted(
                adjustments,
                "DURATION_ADJUSTED",
                req,
                spec,
                requested=str(goal),
                chosen=str(duration),
                message=f"{req.placement}'s target is {goal} seconds; {spec.provider} renders "
                f"{placements.durations_text(spec.durations)}, so {duration} seconds were made",
            )
    else:
        duration = req.duration_seconds
        goal = placements.target(req.placement).duration_seconds
        if duration > goal and not req.allow_longer_than_placement:
            raise _invalid(
                f"durationSeconds {duration} is longer than {req.placement}'s target of {goal} seconds; "
                f"leave durationSeconds out to get the target, or set allowLongerThanPlacement: true",
                "durationSeconds",
            )
    if duration not in spec.durations:
        raise _invalid(
            f"{spec.provider} renders {placements.durations_text(spec.durations)}; got {duration}",
            "durationSeconds",
        )
    return duration


def _seed(req: GenerationRequest, spec: ProviderSpec, settings: dict[str, Any]) -> None:
    """``seed`` goes where the provider takes it (its ``settings.seed``); elsewhere it is refused."""
    if req.seed is None:
        return
    if not spec.takes_seed:
        seeded = ", ".join(s.provider for s in CATALOG.values() if s.takes_seed)
        raise _invalid(f"{spec.provider} takes no seed; providers that do: {seeded}", "seed")
    if not 0 <= req.seed <= MAX_SEED:
        raise _invalid(f"seed must be from 0 to {MAX_SEED}", "seed")
    given = settings.get("seed")
    if given is not None and given != req.seed and not req.seed_is_auto:
        raise _invalid("seed and settings.seed differ; give one of them", "seed")
    if given is None or req.seed_is_auto:
        settings["seed"] = req.seed


def _client_fields(req: GenerationRequest) -> dict[str, Any] | None:
    if req.client_reference is not None and not 0 < len(req.client_reference) <= MAX_CLIENT_REFERENCE:
        raise _invalid(f"clientReference must be 1 to {MAX_CLIENT_REFERENCE} characters", "clientReference")
    if req.client_metadata is None:
        return None
    return _json_object(req.client_metadata, MAX_CLIENT_METADATA_BYTES, "clientMetadata")


async def _folder(req: GenerationRequest) -> uuid.UUID:
    if req.drive_folder_id is None:
        return (await drive.default_folder(req.team_id)).id
    folder_id = _uuid(req.drive_folder_id, "driveFolderId")
    folder = await drive.team_folder(req.team_id, folder_id)
    if folder is None:
        raise DomainError(ErrorCode.NOT_FOUND, "driveFolderId not found", ["input", "driveFolderId"])
    return folder.id


async def _input_image(
    req: GenerationRequest,
    spec: ProviderSpec,
    file_id: str,
    slot: ImageSlot | None,
    what: str,
    *path: str,
    assumed: Assumed | None = None,
) -> drive.DriveFile | None:
    """A Drive file the provider takes in an image slot (a first frame, a reference, a portrait):
    the team's own completed file (another team's id, a pending upload and a missing id all read
    "not found"), an image, and one the provider accepts (its types, size, sides, shape), checked
    against the facts recorded when the file was stored: before anything is held. With ``assumed``
    (an estimate) the file is not looked up (None): only the provider's taking one is checked."""
    file = None if assumed is not None else await drive.team_file(req.team_id, _uuid(file_id, *path))
    if file is None and assumed is None:
        raise DomainError(ErrorCode.NOT_FOUND, f"{path[-1]} not found", ["input", *path])
    if slot is None:
        raise _invalid(f"{spec.provider} takes no {what}; see the providers query", *path)
    if file is None:
        return None
    if not file.content_type.startswith("image/"):
        raise _invalid(f"{path[-1]} must be an image file, not {file.content_type}", *path)
    problem = slot.problem(file.content_type, file.size_bytes, file.width, file.height, spec.provider)
    if problem is not None:
        raise _invalid(f"{path[-1]} {problem}", *path)
    return file


def _slots(spec: ProviderSpec) -> tuple[ImageSlot | None, ImageSlot | None, ImageSlot | None]:
    """What the provider's adapter takes: (first frame, reference images, portrait)."""
    start, references, portrait = image_slots(registry.adapter_class(spec.provider)).values()
    return start, references, portrait


async def _reference_images(
    req: GenerationRequest, spec: ProviderSpec, assumed: Assumed | None
) -> tuple[list[str], float]:
    """The image's reference files (ids, in order) and their megapixels (what BFL and OpenAI bill):
    the files' recorded sizes, or an estimate's stated megapixels."""
    ids = req.reference_file_ids
    _, slot, _ = _slots(spec)
    if slot is None:
        raise _invalid(
            f"{spec.provider} takes no reference images; see the providers query", "referenceFileIds"
        )
    limit = min(slot.max_count, MAX_REFERENCE_FILES)
    if len(ids) > limit:
        raise _invalid(
            f"{spec.provider} takes at most {limit} reference images; got {len(ids)}", "referenceFileIds"
        )
    if assumed is not None:
        return list(ids), round(assumed.reference_megapixels or 0.0, 6)
    files = [
        await _input_image(req, spec, file_id, slot, "reference images", "referenceFileIds", str(i))
        for i, file_id in enumerate(ids)
    ]
    megapixels = sum(
        f.width * f.height / 1_000_000 if f.width and f.height else UNKNOWN_INPUT_MP for f in files if f
    )
    return [str(f.id) for f in files if f], round(megapixels, 6)


def _elements_by_name(elements: Any, found: dict[str, str], depth: int = 0) -> dict[str, str]:
    """RenderScript element name (and id) → element type, compositions included."""
    if depth > 20 or not isinstance(elements, list):
        return found
    for element in elements:
        if not isinstance(element, dict):
            continue
        for key in ("name", "id"):
            if isinstance(element.get(key), str):
                found.setdefault(element[key], str(element.get("type") or ""))
        _elements_by_name(element.get("elements"), found, depth + 1)
    return found


def _check_element(source: Any, name: str, content_type: str, index: int, id_field: str) -> None:
    """Where the RenderScript is known: the input names one of its elements, and that element
    takes the file's kind (an image element an image, a video element a video, audio audio)."""
    if not isinstance(source, dict):
        return  # a template: its elements are Creatomate's to know
    path = ("inputs", str(index))
    elements = _elements_by_name(source.get("elements"), {})
    element = name if name in elements else name.partition(".")[0]
    if element not in elements:
        raise _invalid(f"source has no element named {element!r} for this input to fill", *path, "name")
    kind = elements[element]
    if name != element and not name.endswith(".source"):
        return  # another property of the element (a URL for something else): not a media slot
    wanted = COMPOSITE_MEDIA.get(kind)
    if wanted is None:
        raise _invalid(
            f"element {element!r} is a {kind or 'untyped'} element; a file fills an image, video or audio element",
            *path,
            "name",
        )
    if not content_type.startswith(wanted):
        raise _invalid(f"element {element!r} takes {kind}; this input is {content_type}", *path, id_field)


def check_input_names(names: list[str]) -> None:
    """No two inputs of a composite fill the same element (``A`` and ``A.source`` are one): the
    second one is refused on its name. Blank names are left to the caller's own refusal."""
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if not name:
            continue
        element = name.removesuffix(".source")
        if element in seen:
            raise _invalid(
                f"another input already fills element {element!r}; give one input per element",
                "inputs",
                str(i),
                "name",
            )
        seen[element] = i


async def _composite_inputs(req: GenerationRequest) -> list[dict[str, str]]:
    """Inputs name an element of the template/source and refer to a completed job or a Drive file."""
    if len(req.inputs) > MAX_COMPOSITE_INPUTS:
        raise _invalid(f"a composite takes at most {MAX_COMPOSITE_INPUTS} inputs", "inputs")
    check_input_names([str(item.get("name") or "") for item in req.inputs])
    resolved = []
    for i, item in enumerate(req.inputs):
        name = item.get("name")
        if not name:
            raise _invalid("every input needs the name of the element it fills", "inputs", str(i), "name")
        if item.get("jobId"):
            job = await CreativeJob.get_or_none(
                id=_uuid(item["jobId"], "inputs", str(i), "jobId"), team_id=req.team_id
            )
            if job is None:
                raise DomainError(
                    ErrorCode.NOT_FOUND, "jobId not found", ["input", "inputs", str(i), "jobId"]
                )
            if job.status != JobStatus.COMPLETED or not job.result_urls:
                raise _invalid("an input job must be completed first", "inputs", str(i), "jobId")
            file_id = job.result_urls[0].rsplit("/", 1)[-1]
            output = await drive.team_file(req.team_id, _uuid(file_id, "inputs", str(i), "jobId"))
            if output is None:
                raise _invalid("the input job's output is no longer in Drive", "inputs", str(i), "jobId")
            _check_element(req.source, str(name), output.content_type, i, "jobId")
        elif item.get("fileId"):
            file = await drive.team_file(req.team_id, _uuid(item["fileId"], "inputs", str(i), "fileId"))
            if file is None:
                raise DomainError(
                    ErrorCode.NOT_FOUND, "fileId not found", ["input", "inputs", str(i), "fileId"]
                )
            _check_element(req.source, str(name), file.content_type, i, "fileId")
            file_id = str(file.id)
        else:
            raise _invalid("an input refers to a jobId or a fileId", "inputs", str(i))
        resolved.append({"name": str(name), "file_id": file_id})
    return resolved


def _image_size(settings: dict[str, Any], ratio: str) -> tuple[int, int]:
    """The output size the adapter requests and the price is estimated from: the user's own
    ``settings.width``/``height`` when both are given, else about one megapixel at the ratio."""
    width, height = settings.get("width"), settings.get("height")
    if width is None and height is None:
        return pricing.image_size(ratio)
    if not (
        isinstance(width, int) and isinstance(height, int) and 64 <= width <= 4096 and 64 <= height <= 4096
    ):
        raise _invalid(
            "settings.width and settings.height must both be whole numbers from 64 to 4096", "settings"
        )
    if width * height > pricing.MAX_IMAGE_PIXELS:
        raise _invalid("settings.width × settings.height may be at most 4 megapixels", "settings")
    return width, height


def provider_settings(provider: str, raw: Any) -> dict[str, Any]:
    """``settings`` checked against what the provider declares (:mod:`providers.options`), with
    defaults filled in: unknown names, names differing only in case and bad values are refused."""
    try:
        return options.normalise(provider, raw)
    except options.SettingsError as exc:
        raise _invalid(exc.message, *exc.path) from None


def price(provider: str, job_type: str, text: str | None, params: dict[str, Any]) -> int:
    """The hold, priced from the request the adapter will send; a request it would refuse (a bad
    setting combination, a render beyond the caps) is refused now, before anything is held."""
    try:
        return pricing.estimate(provider, job_type, text, params)
    except options.SettingsError as exc:
        raise _invalid(exc.message, *exc.path) from None
    except RejectedError as exc:
        raise _invalid(exc.message, "settings") from None


def runs_on(provider: str, cfg: lifecycle.LifecycleConfig) -> lifecycle.Resolved:
    """The provider a job that picked ``provider`` runs on today (its successor once it is shut
    down); a shut-down model nothing replaces is refused here, before anything is held."""
    try:
        return lifecycle.resolve(provider, cfg)
    except lifecycle.ModelShutDown as exc:
        raise DomainError(ErrorCode.PROVIDER_NOT_SUPPORTED, exc.message, ["input", "provider"]) from None


async def _check_library(
    req: GenerationRequest, spec: ProviderSpec, params: dict[str, Any], lookup: library.LibraryLookup
) -> None:
    """avatarId and voiceId name entries of the provider's libraries (models/library.py)."""
    if req.type == AVATAR:
        if params.get("avatar_id"):
            await library.check_avatar(lookup, spec.provider, params["avatar_id"])
        await library.check_voice(lookup, spec.provider, params["voice_id"], ["voiceId"])
    elif req.type == TTS:
        settings = params["settings"]
        model = settings.get("model") or params.get("wire_model")
        if params.get("voice_id"):
            await library.check_voice(lookup, spec.provider, params["voice_id"], ["voiceId"], model)
        elif isinstance(settings.get("voice_id"), str):  # ElevenLabs also takes settings.voice_id
            await library.check_voice(
                lookup, spec.provider, settings["voice_id"], ["settings", "voice_id"], model
            )


async def validate(
    req: GenerationRequest,
    cfg: lifecycle.LifecycleConfig | None = None,
    libraries: library.LibraryLookup | None = None,
    assumed: Assumed | None = None,
) -> NewJob:
    """The job ``req`` asks for, checked and priced. With ``libraries`` (every generate request of
    the API) avatarId and voiceId are checked against the providers' libraries too. With
    ``assumed`` (an estimate) its files are stand-ins and nothing is read: the same job, priced."""
    _check_texts(req)
    cfg = cfg or lifecycle.LifecycleConfig()
    req = serving_provider(canonical_placements(req), cfg)
    picked = _spec(req).provider if req.provider is not None else lifecycle.default_for(req.type, cfg)
    resolved = runs_on(picked, cfg)
    spec = CATALOG[resolved.provider]
    settings = provider_settings(spec.provider, _json_object(req.settings, MAX_SETTINGS_BYTES, "settings"))
    if req.idempotency_key is not None and not (0 < len(req.idempotency_key) <= MAX_IDEMPOTENCY_KEY):
        raise _invalid(f"idempotencyKey must be 1 to {MAX_IDEMPOTENCY_KEY} characters", "idempotencyKey")
    client_metadata = _client_fields(req)
    _seed(req, spec, settings)
    params: dict[str, Any] = {"settings": settings, "wire_model": resolved.wire_model}
    prompt: str | None = None
    adjustments: list[dict[str, Any]] = [dict(req.provider_note)] if req.provider_note else []
    ratio = _aspect_ratio(req, spec, adjustments)
    if ratio:
        params["aspect_ratio"] = ratio

    if req.type in (IMAGE, VIDEO, AVATAR, TTS):
        prompt = _text(req, spec)
    if req.type == IMAGE:
        params["width"], params["height"] = _image_size(settings, ratio or "1:1")
        if req.reference_file_ids:
            params["reference_file_ids"], params["input_megapixels"] = await _reference_images(
                req, spec, assumed
            )
    elif req.type == VIDEO:
        duration = _duration(req, spec, adjustments)
        params["duration_seconds"] = duration
        if req.image_file_id:
            start, _, _ = _slots(spec)
            first = await _input_image(
                req, spec, req.image_file_id, start, "start image", "imageFileId", assumed=assumed
            )
            params["image_file_id"] = str(first.id) if first else req.image_file_id
        elif spec.text_only_aspect_ratios and ratio not in spec.text_only_aspect_ratios:
            raise _invalid(
                f"without imageFileId {spec.provider} renders only {', '.join(spec.text_only_aspect_ratios)}",
                "aspectRatio",
            )
    elif req.type == AVATAR:
        if req.portrait_file_id is not None:  # looked up first: a foreign id reads as missing, always
            _, _, slot = _slots(spec)
            portrait = await _input_image(
                req, spec, req.portrait_file_id, slot, "portrait", "portraitFileId", assumed=assumed
            )
            params["portrait_file_id"] = str(portrait.id) if portrait else req.portrait_file_id
        if (req.avatar_id is not None) == (req.portrait_file_id is not None):
            raise _invalid("give exactly one of avatarId or portraitFileId", "avatarId")
        for name, value in (("avatarId", req.avatar_id), ("voiceId", req.voice_id)):
            if value is None and name == "avatarId":
                continue
            if not (value and value.strip()):
                raise _invalid(f"{name} must not be empty", name)
        params["avatar_id"], params["voice_id"] = req.avatar_id, req.voice_id
    elif req.type == TTS:
        if req.voice_id is not None:
            if not req.voice_id.strip():
                raise _invalid("voiceId must not be empty", "voiceId")
            params["voice_id"] = req.voice_id
    elif req.type == COMPOSITE:
        if bool(req.template_id) == (req.source is not None):
            raise _invalid("give exactly one of templateId or source", "templateId")
        if req.template_id:
            params["template_id"] = req.template_id
        else:
            source = _json_object(req.source, MAX_SOURCE_BYTES, "source")
            if not isinstance(source.get("elements"), list) or not source["elements"]:
                raise _invalid(
                    "source needs a non-empty elements array (a Creatomate RenderScript)", "source"
                )
            params["source"] = source
        params["modifications"] = _json_object(req.modifications, MAX_SOURCE_BYTES, "modifications")
        params["inputs"] = await _composite_inputs(req) if assumed is None else []
        prompt = (req.text or "").strip() or None

    # priced last: the request the adapter will send, with the facts of the input files looked up
    # above (the references' megapixels and count); a request it would refuse is refused here
    estimated = price(spec.provider, req.type, prompt, params)
    if libraries is not None:  # avatarId/voiceId against the providers' libraries (cached reads)
        await _check_library(req, spec, params, libraries)
    folder_id = await _folder(req) if assumed is None else ASSUMED_FOLDER
    metadata = resolved.metadata()
    if req.placement is not None:
        metadata["placement"] = req.placement
    if adjustments:
        metadata["adjustments"] = adjustments
    if req.seed_is_auto:
        metadata["seed_auto"] = True
    return NewJob(
        team_id=req.team_id,
        user_id=req.user_id,
        api_key_id=req.api_key_id,
        type=req.type,
        provider=spec.provider,
        prompt=prompt,
        settings=params,
        drive_folder_id=folder_id,
        estimated_cost_cents=estimated,
        idempotency_key=req.idempotency_key,
        metadata=metadata,
        client_reference=req.client_reference,
        client_metadata=client_metadata,
    )


def check_input_element(source: Any, name: str, content_type: str, index: int, id_field: str) -> None:
    """A composite input of ``content_type`` fills the element ``name`` of ``source`` (where the
    RenderScript is known): what a creative checks for an input that is another job's output."""
    _check_element(source, name, content_type, index, id_field)
