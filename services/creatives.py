"""Creatives as the API submits them: rate-limited once, planned (every job validated and priced),
held and queued in one go (models/creatives.py), and canceled whole."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from models import creatives, drive, recipes
from models.creatives import Creative, NodeSpec, Plan, Recipe
from models.errors import DomainError, ErrorCode
from models.generation import GenerationRequest
from providers import lifecycle
from services import outages
from services.auth import Principal
from services.container import Services


async def check_folder(principal: Principal, folder_id: str) -> None:
    """The creative's driveFolderId: the team's own folder, or NOT_FOUND on it."""
    try:
        found = await drive.team_folder(principal.team_id, uuid.UUID(folder_id))
    except ValueError:
        found = None
    if found is None:
        raise DomainError(ErrorCode.NOT_FOUND, "driveFolderId not found", ["input", "driveFolderId"])


# Each recipe's input field (the API's names: errors point at them).
RECIPE_FIELDS = {
    Recipe.VIDEO_WITH_VOICEOVER: "videoWithVoiceover",
    Recipe.IMAGE_WITH_LOGO: "imageWithLogo",
    Recipe.LOCALIZED_AVATAR: "localizedAvatar",
}


@dataclass(frozen=True)
class VideoWithVoiceover:
    video: GenerationRequest
    voiceover: GenerationRequest
    composite_provider: str | None


@dataclass(frozen=True)
class ImageWithLogo:
    image: GenerationRequest
    logo_file_id: str
    composite_provider: str | None


@dataclass(frozen=True)
class LocalizedAvatar:
    avatar: GenerationRequest  # the script and voice are each locale's
    locales: list[recipes.Locale]
    voice_gender: str | None


@dataclass(frozen=True)
class Ask:
    """What a createCreative (or estimateCreative) input asks for, its fields already mapped to
    requests: the general form's ``nodes``, or one recipe's input (``recipe`` may be left out when
    the input names it)."""

    recipe: Recipe | None
    drive_folder_id: str | None
    nodes: list[NodeSpec] | None = None
    video_with_voiceover: VideoWithVoiceover | None = None
    image_with_logo: ImageWithLogo | None = None
    localized_avatar: LocalizedAvatar | None = None


def _invalid(message: str, *path: str) -> DomainError:
    return DomainError(ErrorCode.VALIDATION_FAILED, message, ["input", *path])


async def specs(
    services: Services, principal: Principal, ask: Ask
) -> tuple[str | None, list[NodeSpec], list[str]]:
    """The graph asked for: (recipe, nodes, the path of its nodes for errors). Exactly one form:
    the general ``nodes``, or a recipe with its input (and nothing else)."""
    if ask.drive_folder_id is not None:  # looked up first: a foreign id reads as missing
        await check_folder(principal, ask.drive_folder_id)
    given = {
        "videoWithVoiceover": ask.video_with_voiceover,
        "imageWithLogo": ask.image_with_logo,
        "localizedAvatar": ask.localized_avatar,
        "nodes": ask.nodes,
    }
    present = [name for name, value in given.items() if value is not None]
    recipe = ask.recipe
    if recipe is None and len(present) == 1 and present[0] != "nodes":  # the recipe its input names
        recipe = next(r for r, name in RECIPE_FIELDS.items() if name == present[0])
    if recipe is None:
        if present != ["nodes"] or ask.nodes is None:
            raise _invalid("give nodes (the general form), or a recipe with its input", "nodes")
        return None, ask.nodes, ["nodes"]
    wanted = RECIPE_FIELDS[recipe]
    if present != [wanted]:
        raise _invalid(f"recipe {recipe.value} takes {wanted} (and nothing else)", wanted)
    libs, cfg = services.libraries, lifecycle_config(services)
    if ask.video_with_voiceover is not None:
        vv = ask.video_with_voiceover
        built = await recipes.video_with_voiceover(
            vv.video, vv.voiceover, vv.composite_provider, cfg=cfg, libraries=libs
        )
    elif ask.image_with_logo is not None:
        il = ask.image_with_logo
        built = await recipes.image_with_logo(
            il.image, il.logo_file_id, il.composite_provider, cfg=cfg, libraries=libs
        )
    else:
        la = ask.localized_avatar
        assert la is not None
        built = await recipes.localized_avatar(
            la.avatar,
            la.locales,
            gender=la.voice_gender,
            max_jobs=services.settings.max_jobs_per_creative,
            libraries=libs,
        )
        return recipe.value, built, ["localizedAvatar", "locales"]
    return recipe.value, built, [wanted]


def lifecycle_config(services: Services) -> lifecycle.LifecycleConfig:
    return lifecycle.config(services.settings)


async def plan(
    services: Services,
    principal: Principal,
    recipe: str | None,
    nodes: list[NodeSpec],
    nodes_path: list[str],
    idempotency_key: str | None = None,
) -> Plan:
    return await creatives.plan(
        nodes,
        team_id=principal.team_id,
        user_id=principal.user_id,
        api_key_id=principal.api_key_id,
        recipe=recipe,
        max_jobs=services.settings.max_jobs_per_creative,
        nodes_path=nodes_path,
        cfg=lifecycle_config(services),
        libraries=services.libraries,
        idempotency_key=idempotency_key,
    )


class _AfterCommitQueue:
    """The creative is committed before its jobs are enqueued: a failed enqueue is logged; the
    workers re-enqueue open jobs whose entry is missing (tasks.worker.requeue_lost)."""

    def __init__(self, services: Services) -> None:
        self.queue = services.queue

    async def enqueue_job(self, job_id: str) -> None:
        await outages.best_effort(self.queue.enqueue_job(job_id), f"enqueue job {job_id}")


async def create(
    services: Services,
    principal: Principal,
    recipe: str | None,
    nodes: list[NodeSpec],
    nodes_path: list[str],
    idempotency_key: str | None = None,
) -> Creative:
    """One submission for the rate limit, whatever the number of jobs."""
    await services.limiter.submission(principal)
    planned = await plan(services, principal, recipe, nodes, nodes_path, idempotency_key)
    return await creatives.submit(
        planned,
        queue=_AfterCommitQueue(services),
        events=services.events,
        deadline_scale=services.settings.deadline_scale,
    )


async def cancel(services: Services, principal: Principal, creative_id: str) -> Creative:
    """Every open job canceled (dependants first); the worker is asked to stop provider tasks now."""
    canceled = await creatives.cancel(principal.team_id, creative_id, events=services.events)
    for job in canceled:
        await outages.best_effort(
            services.queue.enqueue_poll(str(job.id), 0), f"enqueue the provider cancel of job {job.id}"
        )
    row = await creatives.get_for_team(principal.team_id, creative_id)
    assert row is not None
    return row
