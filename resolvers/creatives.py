"""Create, read, cancel and follow creatives (graphs of jobs submitted at once)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import strawberry

from models import creatives as creative_ops
from models import jobs as job_ops
from models import recipes
from models.creatives import Creative as CreativeRow
from models.creatives import NodeSpec, Recipe
from models.errors import DomainError, ErrorCode
from models.generation import GenerationRequest
from resolvers.errors import query_errors, user_errors
from resolvers.generate_inputs import JOB_TYPES, generation_request
from resolvers.outputs import job_output
from schema.context import Info
from schema.creatives import (
    CreateCreativeInput,
    Creative,
    CreativeEstimate,
    CreativeEstimateNode,
    CreativeNode,
    CreativeNodeInput,
    CreativePayload,
)
from schema.enums import Provider
from schema.types import GenerateWarning, PlacementWarning
from services import creatives as creative_service
from services.auth import Principal
from services.container import Services


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)


def _enum_value(value: Any) -> Any:
    return None if value is None else value.value


def _general(principal: Principal, nodes: list[CreativeNodeInput], folder: str | None) -> list[NodeSpec]:
    specs = []
    for i, node in enumerate(nodes):
        given = [(name, getattr(node, name)) for name in JOB_TYPES if getattr(node, name) is not None]
        if len(given) != 1:
            raise DomainError(
                ErrorCode.VALIDATION_FAILED,
                "give exactly one of image, video, avatar, tts or composite",
                ["input", "nodes", str(i)],
            )
        job_type, data = given[0]
        specs.append(
            NodeSpec(
                key=node.key,
                request=generation_request(principal, job_type, data, folder),
                path=["nodes", str(i), job_type],
                refs=[(ref.name, ref.node) for ref in node.inputs or []],
                key_path=["nodes", str(i), "key"],
            )
        )
    return specs


def ask(principal: Principal, data: CreateCreativeInput) -> creative_service.Ask:
    """The input's fields as the requests they ask for; which recipe runs, and how, is
    ``services.creatives.specs``. The REST form (web/rest.py) builds the same input."""
    folder = _opt(data.drive_folder_id)
    vv, il, la = data.video_with_voiceover, data.image_with_logo, data.localized_avatar
    return creative_service.Ask(
        recipe=data.recipe,
        drive_folder_id=folder,
        nodes=None if data.nodes is None else _general(principal, data.nodes, folder),
        video_with_voiceover=None
        if vv is None
        else creative_service.VideoWithVoiceover(
            generation_request(principal, "video", vv.video, folder),
            generation_request(principal, "tts", vv.voiceover, folder),
            _enum_value(vv.composite_provider),
        ),
        image_with_logo=None
        if il is None
        else creative_service.ImageWithLogo(
            generation_request(principal, "image", il.image, folder),
            str(il.logo_file_id),
            _enum_value(il.composite_provider),
        ),
        localized_avatar=None
        if la is None
        else creative_service.LocalizedAvatar(
            GenerationRequest(
                type="avatar",
                team_id=principal.team_id,
                user_id=principal.user_id,
                provider=_enum_value(la.provider),
                text=la.script,
                avatar_id=la.avatar_id,
                portrait_file_id=_opt(la.portrait_file_id),
                aspect_ratio=la.aspect_ratio,
                drive_folder_id=folder,
                settings=la.settings,
            ),
            [recipes.Locale(item.locale, item.script, item.voice_id) for item in la.locales],
            la.voice_gender,
        ),
    )


async def specs(
    services: Services, principal: Principal, data: CreateCreativeInput
) -> tuple[str | None, list[NodeSpec], list[str]]:
    """The graph the input asks for: (recipe, nodes, the path of its nodes for errors)."""
    return await creative_service.specs(services, principal, ask(principal, data))


def creative_output(info: Info, row: CreativeRow, snaps: dict[str, dict[str, Any]]) -> Creative:
    """The creative as the API shows it, from its jobs' snapshots (by job id): no query here."""
    settings = info.context.services.settings
    by_key = {node["key"]: snaps[node["job_id"]] for node in row.nodes if node["job_id"] in snaps}
    nodes = [
        CreativeNode(
            key=node["key"],
            job=job_output(by_key[node["key"]], settings),
            depends_on=list(node["depends_on"]),
            waiting_for=creative_ops.waiting_for(node, by_key),
        )
        for node in row.nodes
        if node["key"] in by_key
    ]
    metadatas = [by_key[node["key"]].get("metadata") for node in row.nodes if node["key"] in by_key]
    return Creative(
        id=strawberry.ID(str(row.id)),
        recipe=Recipe(row.recipe) if row.recipe else None,
        status=creative_ops.status(by_key.values()),
        nodes=nodes,
        estimated_cost_cents=row.estimated_cost_cents,
        cost_cents=sum(snap["cost_cents"] for snap in by_key.values()),
        created_at=row.created_at,
        warnings=[GenerateWarning.of(w) for w in job_ops.distinct_notes(metadatas, job_ops.WARNINGS)],
        placement_warnings=[
            PlacementWarning.of(a) for a in job_ops.distinct_notes(metadatas, job_ops.ADJUSTMENTS)
        ],
    )


@user_errors(CreativePayload)
async def create_creative(info: Info, input: CreateCreativeInput) -> CreativePayload:
    principal = info.context.require("generate")
    recipe, nodes, nodes_path = await specs(info.context.services, principal, input)
    row = await creative_service.create(
        info.context.services, principal, recipe, nodes, nodes_path, input.idempotency_key
    )
    return CreativePayload(creative=creative_output(info, row, await creative_ops.job_snapshots(row)))


@user_errors(CreativePayload)
async def cancel_creative(info: Info, id: strawberry.ID) -> CreativePayload:
    principal = info.context.require("generate")
    row = await creative_service.cancel(info.context.services, principal, str(id))
    return CreativePayload(creative=creative_output(info, row, await creative_ops.job_snapshots(row)))


@query_errors
async def creative(info: Info, id: strawberry.ID) -> Creative | None:
    principal = info.context.require("read")
    row = await creative_ops.get_for_team(principal.team_id, str(id))
    return creative_output(info, row, await creative_ops.job_snapshots(row)) if row else None


@query_errors
async def estimate_creative(info: Info, input: CreateCreativeInput) -> CreativeEstimate:
    principal = info.context.require("read")
    recipe, nodes, nodes_path = await specs(info.context.services, principal, input)
    plan = await creative_service.plan(info.context.services, principal, recipe, nodes, nodes_path)
    return CreativeEstimate(
        cents=plan.estimated_cost_cents,
        nodes=[
            CreativeEstimateNode(
                key=n.spec.key, provider=Provider(n.new.provider), cents=n.new.estimated_cost_cents
            )
            for n in plan.nodes
        ],
    )


async def creative_updated(info: Info, id: strawberry.ID) -> AsyncGenerator[Creative, None]:
    """The whole graph first, then again at every change of one of its jobs, until every job
    ended. Built from the events' snapshots (no query per event); re-read after a Redis outage."""
    principal = info.context.require("read")
    async with info.context.services.bus.subscribe(principal.team_id) as queue:
        row = await creative_ops.get_for_team(principal.team_id, str(id))
        if row is None:
            return
        snaps = await creative_ops.job_snapshots(row)
        yield creative_output(info, row, snaps)
        while any(snap["status"] in ("pending", "processing") for snap in snaps.values()):
            event = await queue.get()
            if event["kind"] == "resync":
                fresh = await creative_ops.job_snapshots(row)
                changed = {
                    k: v for k, v in fresh.items() if v["version"] > snaps.get(k, {}).get("version", 0)
                }
            elif event["kind"] == "job" and event["data"]["id"] in snaps:
                data = event["data"]
                changed = {data["id"]: data} if data["version"] > snaps[data["id"]]["version"] else {}
            else:
                continue
            if changed:
                snaps.update(changed)
                yield creative_output(info, row, snaps)
