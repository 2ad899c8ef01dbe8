"""The Drive through the API: GraphQL over HTTP and the REST reads, the app in-process (httpx's
ASGI transport) on a real database and local storage. Jobs' outputs are stored as the worker
stores them (models.drive.store_output) on a job then completed; tests/test_drive_stack.py runs a
real job through the worker. Another team's ids read exactly like ids that do not exist."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from graphql import GraphQLError
from PIL import Image
from tortoise import connections

from models import drive
from models.jobs import CreativeJob, JobStatus
from models.teams import create_api_key, create_team
from schema.drive import SCALARS, BigInt
from services import db
from services.settings import Settings
from storage import ObjectNotFound, Storage, open_storage
from tests.standins import media as make
from web.app import create_app

SECRET = "drive-api-test-secret-" + "x" * 32
FILE_FIELDS = """id name contentType sizeBytes kind source width height durationSeconds url thumbnailUrl
jobId folderId createdAt"""
FOLDER_FIELDS = "id name parentId path isDefault fileCount sizeBytes totalFileCount totalSizeBytes createdAt"
_LEVEL = f"{FOLDER_FIELDS} children {{ %s }}"
TREE = "{ driveFolders { %s } }" % (_LEVEL % (_LEVEL % (_LEVEL % FOLDER_FIELDS)))  # four levels
FILES = f"""query ($folderId: ID, $filter: DriveFileFilter, $first: Int, $after: String) {{
  driveFiles(folderId: $folderId, filter: $filter, first: $first, after: $after) {{
    totalCount pageInfo {{ hasNextPage endCursor }} edges {{ cursor node {{ {FILE_FIELDS} }} }}
  }}
}}"""
CREATE = """mutation ($name: String!, $parentId: ID) { createDriveFolder(name: $name, parentId: $parentId) {
  folder { id name parentId path } userErrors { code message field } } }"""


class NoLimits:
    async def read(self, principal: object) -> None:
        return None

    async def download(self, team_id: object, api_key_id: object | None = None) -> None:
        return None


@dataclass
class Caller:
    key: str
    team_id: str
    user_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@dataclass
class World:
    settings: Settings
    storage: Storage
    app: Any
    me: Caller
    other: Caller
    reader: Caller  # my team, the read scope only
    prompts: Iterator[int] = field(default_factory=lambda: iter(range(10**6)))

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://api")

    async def gql(self, who: Caller | None, query: str, **variables: Any) -> dict[str, Any]:
        async with self.client() as client:
            answer = await client.post(
                "/graphql",
                json={"query": query, "variables": variables},
                headers=who.headers if who else {},
            )
        body: dict[str, Any] = answer.json()
        return body

    async def data(self, who: Caller, query: str, **variables: Any) -> dict[str, Any]:
        body = await self.gql(who, query, **variables)
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    async def rest(self, who: Caller | None, path: str, **params: Any) -> httpx.Response:
        async with self.client() as client:
            return await client.get(path, params=params, headers=who.headers if who else {})

    async def fetch(self, url: str) -> httpx.Response:
        """A signed URL as a browser fetches it (no credentials)."""
        assert url.startswith(self.settings.public_url), url
        async with self.client() as client:
            return await client.get(url.removeprefix(self.settings.public_url))

    async def job(
        self,
        who: Caller,
        outputs: list[tuple[bytes, str]],
        *,
        job_type: str = "image",
        provider: str = "flux_2_pro",
        prompt: str = "A red bicycle against a white wall",
        folder_id: str | None = None,
    ) -> tuple[str, list[drive.DriveFile]]:
        """A completed job whose outputs were stored as the worker stores them."""
        row = await CreativeJob.create(
            team_id=who.team_id,
            user_id=who.user_id,
            type=job_type,
            provider=provider,
            prompt=prompt,
            status=JobStatus.PROCESSING,
            drive_folder_id=folder_id,
        )
        files = [
            await drive.store_output(
                self.storage,
                team_id=who.team_id,
                folder_id=folder_id,
                job_id=row.id,
                job_type=job_type,
                provider=provider,
                prompt=prompt,
                index=index,
                data=data,
                content_type=content_type,
            )
            for index, (data, content_type) in enumerate(outputs)
        ]
        await CreativeJob.filter(id=row.id).update(
            status=JobStatus.COMPLETED, result_urls=[f"/files/{f.id}" for f in files]
        )
        return str(row.id), files


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    tmp: Path = tmp_path_factory.mktemp("drive-api")
    settings = Settings(
        env="development",
        data_dir=tmp,
        database_url=f"sqlite://{tmp / 'drive-api.sqlite3'}",
        secret_key=SECRET,
        drive_quota_bytes=50_000_000,
    )
    await db.migrate(settings)
    await db.init(settings)
    try:
        async with open_storage(settings.storage_url, local_root=tmp / "drive", s3=settings.s3) as storage:
            mine, theirs = await create_team("drive-api"), await create_team("another team")
            me = Caller(mine.api_key, str(mine.team.id), str(mine.user.id))
            read_only = await create_api_key(mine.team.id, mine.user.id, name="viewer", scopes=["read"])
            front = create_app(settings)
            front.app.state.services = SimpleNamespace(settings=settings, storage=storage, limiter=NoLimits())
            yield World(
                settings,
                storage,
                front,
                me,
                Caller(theirs.api_key, str(theirs.team.id), str(theirs.user.id)),
                Caller(read_only.secret, me.team_id, me.user_id),
            )
    finally:
        await db.close()


def by_path(folders: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for folder in folders:
        out[folder["path"]] = folder
        out.update(by_path(folder.get("children") or []))
    return out


async def create_folder(world: World, name: str, parent_id: str | None = None) -> str:
    payload = (await world.data(world.me, CREATE, name=name, parentId=parent_id))["createDriveFolder"]
    assert payload["userErrors"] == [], payload
    return str(payload["folder"]["id"])


# ---------------------------------------------------------------------------------------------
# Folders


async def test_a_folder_tree_is_created_renamed_moved_and_counted(world: World) -> None:
    top = f"Campaigns {uuid.uuid4().hex[:6]}"
    answer = (await world.data(world.me, CREATE, name=top))["createDriveFolder"]
    assert answer["userErrors"] == []
    assert (answer["folder"]["name"], answer["folder"]["parentId"], answer["folder"]["path"]) == (
        top,
        None,
        f"/{top}",
    )
    campaigns = answer["folder"]["id"]
    spring = await create_folder(world, "Spring", campaigns)
    drafts = await create_folder(world, "Drafts", spring)

    # the same name beside it is a conflict; elsewhere it is fine
    again = (await world.data(world.me, CREATE, name="Spring", parentId=campaigns))["createDriveFolder"]
    assert again["folder"] is None
    assert again["userErrors"][0]["code"] == "CONFLICT" and again["userErrors"][0]["field"] == ["name"]
    await create_folder(world, "Spring", drafts)

    renamed = (
        await world.data(
            world.me,
            'mutation ($id: ID!) { renameDriveFolder(id: $id, name: "Spring 2027") '
            "{ folder { name path } userErrors { code } } }",
            id=spring,
        )
    )["renameDriveFolder"]
    assert renamed == {"folder": {"name": "Spring 2027", "path": f"/{top}/Spring 2027"}, "userErrors": []}

    # files in the subtree count in every folder above them
    pixels = make.image("png", 40, 30)
    _, stored = await world.job(world.me, [(pixels, "image/png"), (pixels, "image/png")], folder_id=drafts)
    tree = by_path((await world.data(world.me, TREE))["driveFolders"])
    drafts_path = f"/{top}/Spring 2027/Drafts"
    assert tree[drafts_path]["fileCount"] == 2
    assert tree[drafts_path]["sizeBytes"] == sum(f.size_bytes for f in stored)
    assert tree[f"/{top}"]["fileCount"] == 0
    assert tree[f"/{top}"]["totalFileCount"] == 2
    assert tree[f"/{top}"]["totalSizeBytes"] == tree[drafts_path]["sizeBytes"]
    assert tree[f"{drafts_path}/Spring"]["parentId"] == drafts
    assert any(f["isDefault"] and f["parentId"] is None for f in tree.values())

    move = """mutation ($id: ID!, $parentId: ID) { moveDriveFolder(id: $id, parentId: $parentId) {
      folder { path parentId totalFileCount } userErrors { code field } } }"""
    # never into itself or under itself
    for target in (spring, drafts):
        refused = (await world.data(world.me, move, id=spring, parentId=target))["moveDriveFolder"]
        assert refused == {
            "folder": None,
            "userErrors": [{"code": "VALIDATION_FAILED", "field": ["parentId"]}],
        }
    moved = (await world.data(world.me, move, id=drafts, parentId=None))["moveDriveFolder"]
    assert moved == {
        "folder": {"path": "/Drafts", "parentId": None, "totalFileCount": 2},
        "userErrors": [],
    }
    tree = by_path((await world.data(world.me, TREE))["driveFolders"])
    assert tree[f"/{top}"]["totalFileCount"] == 0 and tree["/Drafts/Spring"]["parentId"] == drafts


async def test_unsafe_names_are_cleaned_or_refused(world: World) -> None:
    for bad in ("../", "..", "\x00\x07\x1b", " / ", "\u202e\u200b"):
        answer = (await world.data(world.me, CREATE, name=bad))["createDriveFolder"]
        assert answer["folder"] is None
        assert answer["userErrors"] == [
            {
                "code": "VALIDATION_FAILED",
                "message": "the name is empty once unsafe characters are removed",
                "field": ["name"],
            }
        ]
    cleaned = (await world.data(world.me, CREATE, name="../../etc/pass\x00wd\n"))["createDriveFolder"]
    assert cleaned["folder"]["name"] == "etc_passwd" and cleaned["folder"]["path"] == "/etc_passwd"

    _, (file,) = await world.job(world.me, [(make.image("png", 20, 20), "image/png")])
    rename = """mutation ($id: ID!, $name: String!) { renameDriveFile(id: $id, name: $name) {
      file { name } userErrors { code message field } } }"""
    renamed = await world.data(world.me, rename, id=str(file.id), name="../../Logo\x1b[31m.jpg")
    assert renamed["renameDriveFile"] == {"file": {"name": "Logo[31m.png"}, "userErrors": []}
    refused = (await world.data(world.me, rename, id=str(file.id), name="/../\x00"))["renameDriveFile"]
    # a file keeps its extension: an empty stem becomes "file"
    assert refused == {"file": {"name": "file.png"}, "userErrors": []}


async def test_a_folder_with_files_is_deleted_only_with_the_flag(world: World) -> None:
    folder = await create_folder(world, f"Old {uuid.uuid4().hex[:6]}")
    sub = await create_folder(world, "Inside", folder)
    _, files = await world.job(
        world.me,
        [(make.image("png", 64, 48), "image/png"), (make.mp4(64, 48, 0.5), "video/mp4")],
        job_type="video",
        provider="kling_3_0",
        folder_id=sub,
    )
    usage = "{ driveUsage { usedBytes quotaBytes availableBytes } }"
    before = (await world.data(world.me, usage))["driveUsage"]
    delete = """mutation ($id: ID!, $recursive: Boolean) { deleteDriveFolder(id: $id, recursive: $recursive) {
      deletedId deletedFiles deletedFolders freedBytes userErrors { code message field } } }"""

    refused = (await world.data(world.me, delete, id=folder, recursive=False))["deleteDriveFolder"]
    assert refused["deletedId"] is None
    assert refused["userErrors"][0]["code"] == "CONFLICT"
    assert refused["userErrors"][0]["field"] == ["recursive"]
    assert "2 files, 1 folders" in refused["userErrors"][0]["message"]
    assert (await world.data(world.me, usage))["driveUsage"] == before
    for file in files:  # nothing was lost
        assert (await world.storage.stat(file.storage_key)).size == file.size_bytes

    done = (await world.data(world.me, delete, id=folder, recursive=True))["deleteDriveFolder"]
    freed = sum(f.size_bytes for f in files)
    assert done == {
        "deletedId": folder,
        "deletedFiles": 2,
        "deletedFolders": 2,
        "freedBytes": freed,
        "userErrors": [],
    }
    after = (await world.data(world.me, usage))["driveUsage"]
    assert after["usedBytes"] == before["usedBytes"] - freed
    assert after["availableBytes"] == after["quotaBytes"] - after["usedBytes"]
    for file in files:
        for key in (file.storage_key, file.thumbnail_key):
            assert key is not None
            with pytest.raises(ObjectNotFound):
                await world.storage.stat(key)
    tree = by_path((await world.data(world.me, TREE))["driveFolders"])
    assert not any(f["id"] in (folder, sub) for f in tree.values())

    # an empty folder needs no flag
    empty = await create_folder(world, f"Empty {uuid.uuid4().hex[:6]}")
    gone = (await world.data(world.me, delete, id=empty))["deleteDriveFolder"]
    assert (gone["deletedId"], gone["deletedFolders"], gone["userErrors"]) == (empty, 1, [])


# ---------------------------------------------------------------------------------------------
# Files


async def test_files_are_listed_newest_first_filtered_and_paged_with_a_total(world: World) -> None:
    folder = await create_folder(world, f"Listing {uuid.uuid4().hex[:6]}")
    images = [(make.image("png", 32, 32), "image/png")] * 3
    image_job, image_files = await world.job(world.me, images, prompt="Sunset Beach", folder_id=folder)
    tts_job, tts_files = await world.job(
        world.me,
        [(make.audio("mp3", 0.5), "audio/mpeg")],
        job_type="tts",
        provider="elevenlabs",
        prompt="Welcome to the sunset sale",
        folder_id=folder,
    )
    everything = [*image_files, *tts_files]

    async def page(**variables: Any) -> dict[str, Any]:
        return (await world.data(world.me, FILES, folderId=folder, **variables))["driveFiles"]  # type: ignore[no-any-return]

    seen: list[dict[str, Any]] = []
    after = None
    while True:
        answer = await page(first=2, after=after)
        assert answer["totalCount"] == 4
        seen += [edge["node"] for edge in answer["edges"]]
        if not answer["pageInfo"]["hasNextPage"]:
            break
        after = answer["pageInfo"]["endCursor"]
    assert sorted(f["id"] for f in seen) == sorted(str(f.id) for f in everything)
    keys = [(f["createdAt"], f["id"]) for f in seen]
    assert keys == sorted(keys, reverse=True)  # newest first

    audio = await page(filter={"kind": "AUDIO"})
    assert audio["totalCount"] == 1
    (node,) = [edge["node"] for edge in audio["edges"]]
    assert node["name"] == "tts-elevenlabs-welcome-to-the-sunset-sale-1.mp3"
    assert (node["kind"], node["source"], node["jobId"], node["thumbnailUrl"]) == (
        "AUDIO",
        "GENERATED",
        tts_job,
        None,
    )
    assert node["durationSeconds"] == pytest.approx(0.5, abs=0.1)

    by_job = await page(filter={"jobId": image_job})
    assert by_job["totalCount"] == 3 and all(e["node"]["jobId"] == image_job for e in by_job["edges"])
    by_name = await page(filter={"name": "SUNSET-beach"})  # any case
    assert by_name["totalCount"] == 3
    assert {e["node"]["name"] for e in by_name["edges"]} == {
        f"image-flux_2_pro-sunset-beach-{n}.png" for n in (1, 2, 3)
    }
    both = await page(filter={"name": "sunset", "kind": "IMAGE", "jobId": image_job}, first=1)
    assert both["totalCount"] == 3 and len(both["edges"]) == 1 and both["pageInfo"]["hasNextPage"]
    assert (await page(filter={"name": "100%_"}))["totalCount"] == 0
    assert (await page(filter={"jobId": "not-a-job"}))["totalCount"] == 0

    # across every folder of the team
    everywhere = (await world.data(world.me, FILES, filter={"jobId": tts_job}))["driveFiles"]
    assert everywhere["totalCount"] == 1

    for variables, field_name in (
        ({"first": 0}, "first"),
        ({"first": 101}, "first"),
        ({"after": "x"}, "after"),
    ):
        refused = await world.gql(world.me, FILES, folderId=folder, **variables)
        assert refused["data"] is None
        assert refused["errors"][0]["extensions"]["code"] == "VALIDATION_FAILED", (field_name, refused)


async def test_a_file_is_renamed_moved_read_and_deleted(world: World) -> None:
    target = await create_folder(world, f"Target {uuid.uuid4().hex[:6]}")
    _, (file,) = await world.job(world.me, [(make.image("png", 48, 32), "image/png")])
    file_id = str(file.id)
    one = f"query ($id: ID!) {{ driveFile(id: $id) {{ {FILE_FIELDS} folder {{ id path isDefault }} }} }}"
    read = (await world.data(world.me, one, id=file_id))["driveFile"]
    assert (read["width"], read["height"], read["contentType"], read["sizeBytes"]) == (
        48,
        32,
        "image/png",
        file.size_bytes,
    )
    assert read["folder"]["isDefault"] and read["folder"]["path"] == "/AI Generations"

    move = """mutation ($id: ID!, $folderId: ID!) { moveDriveFile(id: $id, folderId: $folderId) {
      file { folderId folder { id } } userErrors { code field } } }"""
    moved = (await world.data(world.me, move, id=file_id, folderId=target))["moveDriveFile"]
    assert moved == {"file": {"folderId": target, "folder": {"id": target}}, "userErrors": []}
    missing = (await world.data(world.me, move, id=file_id, folderId=str(uuid.uuid4())))["moveDriveFile"]
    assert missing == {"file": None, "userErrors": [{"code": "NOT_FOUND", "field": ["folderId"]}]}

    usage = "{ driveUsage { usedBytes } }"
    before = (await world.data(world.me, usage))["driveUsage"]["usedBytes"]
    delete = """mutation ($id: ID!) { deleteDriveFile(id: $id) { deletedId deletedFiles freedBytes
      userErrors { code message field } } }"""
    done = (await world.data(world.me, delete, id=file_id))["deleteDriveFile"]
    assert done == {"deletedId": file_id, "deletedFiles": 1, "freedBytes": file.size_bytes, "userErrors": []}
    assert (await world.data(world.me, usage))["driveUsage"]["usedBytes"] == before - file.size_bytes
    assert (await world.data(world.me, one, id=file_id))["driveFile"] is None
    assert (await world.fetch(read["url"])).status_code == 404
    again = (await world.data(world.me, delete, id=file_id))["deleteDriveFile"]
    assert again["userErrors"] == [{"code": "NOT_FOUND", "message": "file not found", "field": ["id"]}]


# ---------------------------------------------------------------------------------------------
# Outputs of a job


JOB_OUTPUTS = f"""query ($id: ID!) {{ job(id: $id) {{ id status resultUrls
  outputs {{ {FILE_FIELDS} job {{ id }} folder {{ path }} }} }} }}"""


async def test_a_completed_jobs_outputs_are_drive_files_with_thumbnails(world: World) -> None:
    video, still = make.mp4(320, 180, 1.0), make.image("png", 640, 360)
    job_id, stored = await world.job(
        world.me,
        [(video, "video/mp4"), (still, "image/png")],
        job_type="video",
        provider="veo_3_1",
        prompt="A 4K sunrise, over Kyoto! Slow pan across the rooftops",
    )
    job = (await world.data(world.me, JOB_OUTPUTS, id=job_id))["job"]
    first, second = job["outputs"]
    assert [o["name"] for o in job["outputs"]] == [
        "video-veo_3_1-a-4k-sunrise-over-kyoto-slow-1.mp4",
        "video-veo_3_1-a-4k-sunrise-over-kyoto-slow-2.png",
    ]
    assert [o["id"] for o in job["outputs"]] == [str(f.id) for f in stored]
    # resultUrls and outputs name the same files, in the same order
    assert [re.search(r"/files/([^?]+)", u).group(1) for u in job["resultUrls"]] == [  # type: ignore[union-attr]
        o["id"] for o in job["outputs"]
    ]
    assert (first["kind"], first["width"], first["height"]) == ("VIDEO", stored[0].width, stored[0].height)
    assert first["width"] > first["height"] > 0
    assert first["durationSeconds"] == pytest.approx(1.0, abs=0.2)
    assert (second["kind"], second["width"], second["height"], second["durationSeconds"]) == (
        "IMAGE",
        640,
        360,
        None,
    )
    assert all(
        o["job"] == {"id": job_id} and o["folder"] == {"path": "/AI Generations"} for o in job["outputs"]
    )

    # the bytes and the thumbnails download through their signed links, with no credentials
    got = await world.fetch(first["url"])
    assert got.status_code == 200 and got.content == video and got.headers["content-type"] == "video/mp4"
    assert got.headers["content-disposition"].endswith(f"''{first['name']}")
    async with world.client() as client:
        ranged = await client.get(
            first["url"].removeprefix(world.settings.public_url), headers={"Range": "bytes=10-19"}
        )
    assert ranged.status_code == 206 and ranged.content == video[10:20]
    for output in (first, second):
        width, height = output["width"], output["height"]
        assert output["thumbnailUrl"] and "/thumbnail?" in output["thumbnailUrl"]
        thumb = await world.fetch(output["thumbnailUrl"])
        assert thumb.status_code == 200, thumb.text
        assert thumb.headers["content-type"] == "image/webp"
        assert thumb.headers["etag"] and thumb.headers["accept-ranges"] == "bytes"
        assert re.fullmatch(r"private, max-age=\d+, immutable", thumb.headers["cache-control"])
        assert ".thumbnail.webp" in thumb.headers["content-disposition"]
        picture = Image.open(io.BytesIO(thumb.content))
        assert picture.format == "WEBP"
        assert max(picture.size) < max(width, height) or max(width, height) <= 512
        assert abs(picture.size[0] / picture.size[1] - width / height) < 0.05
        # with the team's credentials too; not with another team's
        path = f"/files/{output['id']}/thumbnail"
        assert (await world.rest(world.me, path)).status_code == 200
        foreign = await world.rest(world.other, path)
        assert foreign.status_code == 404 and foreign.json()["error"]["code"] == "NOT_FOUND"
    tampered = first["thumbnailUrl"].replace("signature=", "signature=0")
    assert (await world.fetch(tampered)).status_code == 403

    # the REST form of the job carries the same outputs
    answer = await world.rest(world.me, f"/api/v1/creative-hub/jobs/{job_id}")
    assert answer.status_code == 200
    rest_outputs = answer.json()["outputs"]
    assert [o["id"] for o in rest_outputs] == [o["id"] for o in job["outputs"]]
    assert rest_outputs[0]["name"] == first["name"] and rest_outputs[0]["kind"] == "video"
    assert rest_outputs[0]["width"] == first["width"] and rest_outputs[1]["thumbnail_url"]

    # a job without results has no outputs (and nothing is read for them)
    pending = await CreativeJob.create(
        team_id=world.me.team_id, user_id=world.me.user_id, type="image", provider="flux_2_pro", prompt="x"
    )
    assert (await world.data(world.me, JOB_OUTPUTS, id=str(pending.id)))["job"]["outputs"] == []
    assert (await world.rest(world.me, f"/api/v1/creative-hub/jobs/{pending.id}")).json()["outputs"] == []


async def test_a_file_without_a_thumbnail_answers_404_there(world: World) -> None:
    _, (file,) = await world.job(
        world.me, [(make.audio("mp3", 0.3), "audio/mpeg")], job_type="tts", provider="openai_tts"
    )
    answer = await world.rest(world.me, f"/files/{file.id}/thumbnail")
    assert answer.status_code == 404
    assert answer.json()["error"] == {
        "code": "NOT_FOUND",
        "message": "this file has no thumbnail",
        "field": None,
    }


class QueryCounter:
    """Statements the database runs, counted at the connection."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        conn = connections.get("default")
        for name in ("execute_query", "execute_query_dict"):
            original = getattr(conn, name)

            async def counted(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
                self.count += 1
                return await _original(*args, **kwargs)

            monkeypatch.setattr(conn, name, counted)


async def test_outputs_and_relations_are_read_only_when_selected_and_batched(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(3):
        await world.job(world.other, [(make.image("png", 16, 16), "image/png")] * 2, prompt=f"batch {n}")
    jobs = "{ jobs(first: 3) { nodes { id status resultUrls } } }"
    with_outputs = "{ jobs(first: 3) { nodes { id status resultUrls outputs { id name } } } }"
    with_relations = (
        """{ jobs(first: 3) { nodes { id outputs { id job { id outputs { id } } folder { id } } } } }"""
    )
    await world.data(world.other, jobs)  # the key's lastUsedAt written (once a minute): not counted below
    counter = QueryCounter(monkeypatch)
    plain = await world.data(world.other, jobs)
    base = counter.count
    counter.count = 0
    answer = await world.data(world.other, with_outputs)
    assert counter.count == base + 1, "three jobs' outputs in one statement"
    assert [len(node["outputs"]) for node in answer["jobs"]["nodes"]] == [2, 2, 2]
    assert [n["id"] for n in answer["jobs"]["nodes"]] == [n["id"] for n in plain["jobs"]["nodes"]]
    counter.count = 0
    await world.data(world.other, with_relations)
    # outputs, then the six files' jobs (one statement), their outputs (one), the folder tree (a few)
    assert counter.count <= base + 1 + 1 + 1 + 3, counter.count


async def test_who_submitted_a_page_of_jobs_is_read_in_one_statement(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CreativeJob.submittedBy over a page of jobs of several people: one batched read, not one per
    job (the browser's Jobs panel lists a thousand)."""
    from models.teams import Role, add_member

    team = world.other.team_id
    people = [
        world.other.user_id,
        *[
            str((await add_member(team, f"{uuid.uuid4().hex[:8]}@example.com", Role.MEMBER)).id)
            for _ in range(3)
        ],
    ]
    for n in range(40):
        await CreativeJob.create(
            team_id=team, user_id=people[n % 4], type="image", provider="flux_2_pro", prompt=f"who {n}"
        )
    page = "{ jobs(first: 40) { nodes { id } } }"
    with_people = "{ jobs(first: 40) { nodes { id userId submittedBy { id email role } } } }"
    await world.data(world.other, page)
    counter = QueryCounter(monkeypatch)
    await world.data(world.other, page)
    base, counter.count = counter.count, 0
    answer = await world.data(world.other, with_people)
    assert counter.count == base + 1, "forty jobs' submitters in one statement"
    nodes = answer["jobs"]["nodes"]
    assert all(n["submittedBy"]["id"] == n["userId"] for n in nodes)
    assert {n["submittedBy"]["id"] for n in nodes} == set(people)


# ---------------------------------------------------------------------------------------------
# Scopes and other teams


async def test_reads_need_read_and_changes_need_generate(world: World) -> None:
    assert (await world.data(world.reader, "{ driveUsage { usedBytes } }"))["driveUsage"]["usedBytes"] >= 0
    refused = await world.gql(world.reader, CREATE, name="Nope")
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    anonymous = await world.gql(None, "{ driveFolders { id } }")
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    answer = await world.rest(None, "/api/v1/drive/usage")
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "UNAUTHENTICATED"


async def test_another_teams_ids_read_exactly_like_missing_ones(world: World) -> None:
    theirs = await world.data(
        world.other,
        'mutation { createDriveFolder(name: "Private") { folder { id } userErrors { code } } }',
    )
    their_folder = theirs["createDriveFolder"]["folder"]["id"]
    their_job, (their_file,) = await world.job(world.other, [(make.image("png", 20, 20), "image/png")])
    mine = await create_folder(world, f"Mine {uuid.uuid4().hex[:6]}")
    _, (my_file,) = await world.job(world.me, [(make.image("png", 20, 20), "image/png")])
    missing = str(uuid.uuid4())

    graphql = [
        ("query ($id: ID!) { driveFile(id: $id) { id } }", {"id": "FILE"}),
        (FILES, {"folderId": "FOLDER"}),
        (FILES, {"filter": {"jobId": "JOB"}}),
        ("query ($id: ID!) { job(id: $id) { id outputs { id } } }", {"id": "JOB"}),
        (CREATE, {"name": "x", "parentId": "FOLDER"}),
        (
            'mutation ($id: ID!) { renameDriveFolder(id: $id, name: "x") { folder { id } userErrors { code message field } } }',
            {"id": "FOLDER"},
        ),
        (
            "mutation ($id: ID!) { moveDriveFolder(id: $id, parentId: null) { folder { id } userErrors { code message field } } }",
            {"id": "FOLDER"},
        ),
        (
            'mutation ($p: ID!) { moveDriveFolder(id: "MINE", parentId: $p) { folder { id } userErrors { code message field } } }',
            {"p": "FOLDER"},
        ),
        (
            "mutation ($id: ID!) { deleteDriveFolder(id: $id, recursive: true) { deletedId userErrors { code message field } } }",
            {"id": "FOLDER"},
        ),
        (
            'mutation ($id: ID!) { renameDriveFile(id: $id, name: "x") { file { id } userErrors { code message field } } }',
            {"id": "FILE"},
        ),
        (
            'mutation ($id: ID!) { moveDriveFile(id: $id, folderId: "MINE") { file { id } userErrors { code message field } } }',
            {"id": "FILE"},
        ),
        (
            'mutation ($f: ID!) { moveDriveFile(id: "MYFILE", folderId: $f) { file { id } userErrors { code message field } } }',
            {"f": "FOLDER"},
        ),
        (
            "mutation ($id: ID!) { deleteDriveFile(id: $id) { deletedId userErrors { code message field } } }",
            {"id": "FILE"},
        ),
    ]
    ids = {"FOLDER": their_folder, "FILE": str(their_file.id), "JOB": their_job}

    def filled(value: Any, foreign: bool) -> Any:
        if isinstance(value, dict):
            return {k: filled(v, foreign) for k, v in value.items()}
        return (ids[value] if foreign else missing) if value in ids else value

    for query, variables in graphql:
        query = query.replace("MINE", mine).replace("MYFILE", str(my_file.id))
        foreign = await world.gql(world.me, query, **filled(variables, True))
        absent = await world.gql(world.me, query, **filled(variables, False))
        assert foreign == absent, (query, foreign, absent)
        data = foreign.get("data") or {}
        assert (
            "NOT_FOUND" in repr(foreign)  # a userError or a query's error
            or data in ({"driveFile": None}, {"job": None})
            or data["driveFiles"]["totalCount"] == 0
        ), foreign

    rest = [
        ("/api/v1/drive/files/FILE", {}),
        ("/api/v1/drive/files", {"folder_id": "FOLDER"}),
        ("/files/FILE", {}),
        ("/files/FILE/thumbnail", {}),
        ("/api/v1/creative-hub/jobs/JOB", {}),
    ]
    for path, params in rest:
        foreign = await world.rest(
            world.me, path.replace("FILE", ids["FILE"]).replace("JOB", their_job), **filled(params, True)
        )
        absent = await world.rest(
            world.me, path.replace("FILE", missing).replace("JOB", missing), **filled(params, False)
        )
        assert (foreign.status_code, foreign.json()) == (absent.status_code, absent.json()), path
        assert foreign.status_code == 404 and foreign.json()["error"]["code"] == "NOT_FOUND"
    listed = (await world.rest(world.me, "/api/v1/drive/files", job_id=their_job)).json()
    assert (listed["files"], listed["total_count"]) == ([], 0)

    # nothing of theirs changed or shows in my tree
    still = await world.data(
        world.other, "query ($id: ID!) { driveFile(id: $id) { name } }", id=str(their_file.id)
    )
    assert still["driveFile"]["name"] == their_file.name
    assert their_folder in repr((await world.data(world.other, TREE))["driveFolders"])
    assert their_folder not in repr((await world.data(world.me, TREE))["driveFolders"])


# ---------------------------------------------------------------------------------------------
# REST


async def test_the_rest_reads_match_graphql(world: World) -> None:
    folder = await create_folder(world, f"Rest {uuid.uuid4().hex[:6]}")
    job_id, files = await world.job(
        world.me, [(make.image("png", 30, 20), "image/png")] * 3, prompt="Rest reads", folder_id=folder
    )
    answer = await world.rest(world.me, "/api/v1/drive/files", folder_id=folder, first=2)
    assert answer.status_code == 200
    body = answer.json()
    assert body["total_count"] == 3 and body["has_next_page"] and len(body["files"]) == 2
    rest_next = (
        await world.rest(world.me, "/api/v1/drive/files", folder_id=folder, first=2, after=body["end_cursor"])
    ).json()
    assert not rest_next["has_next_page"] and len(rest_next["files"]) == 1
    graphql = (await world.data(world.me, FILES, folderId=folder))["driveFiles"]
    assert [f["id"] for f in body["files"] + rest_next["files"]] == [
        e["node"]["id"] for e in graphql["edges"]
    ]
    one = body["files"][0]
    assert set(one) == {
        "id",
        "name",
        "content_type",
        "size_bytes",
        "kind",
        "source",
        "width",
        "height",
        "duration_seconds",
        "url",
        "thumbnail_url",
        "job_id",
        "folder_id",
        "created_at",
    }
    assert (one["kind"], one["source"], one["job_id"], one["folder_id"]) == (
        "image",
        "generated",
        job_id,
        folder,
    )
    stored = {str(f.id): f for f in files}
    assert (await world.fetch(one["url"])).content == await world.storage.get(stored[one["id"]].storage_key)

    filtered = (await world.rest(world.me, "/api/v1/drive/files", kind="video", job_id=job_id)).json()
    assert filtered["total_count"] == 0
    by_name = (await world.rest(world.me, "/api/v1/drive/files", name="REST-reads-2")).json()
    assert [f["name"] for f in by_name["files"]] == ["image-flux_2_pro-rest-reads-2.png"]

    single = await world.rest(world.me, f"/api/v1/drive/files/{one['id']}")
    assert single.status_code == 200 and single.json()["name"] == one["name"]

    folders = (await world.rest(world.me, "/api/v1/drive/folders")).json()["folders"]
    (mine,) = [f for f in by_path(folders).values() if f["id"] == folder]
    assert (mine["file_count"], mine["total_file_count"], mine["children"]) == (3, 3, [])
    assert mine["size_bytes"] == sum(f.size_bytes for f in files)

    usage = (await world.rest(world.me, "/api/v1/drive/usage")).json()
    graphql_usage = (await world.data(world.me, "{ driveUsage { usedBytes quotaBytes availableBytes } }"))[
        "driveUsage"
    ]
    assert usage == {
        "used_bytes": graphql_usage["usedBytes"],
        "quota_bytes": 50_000_000,
        "available_bytes": graphql_usage["availableBytes"],
    }

    for params, field_name in (
        ({"kind": "pdf"}, "kind"),
        ({"first": "0"}, "first"),
        ({"first": "many"}, "first"),
        ({"after": "nope"}, "after"),
    ):
        refused = await world.rest(world.me, "/api/v1/drive/files", **params)
        assert refused.status_code == 400, params
        assert refused.json()["error"]["code"] == "VALIDATION_FAILED"
        assert refused.json()["error"]["field"] == [field_name]
    unknown = await world.rest(world.me, "/api/v1/drive/files", folder_id="../../etc")
    assert unknown.status_code == 404
    assert unknown.json()["error"] == {
        "code": "NOT_FOUND",
        "message": "folder not found",
        "field": ["folderId"],
    }


def test_bigint_inputs_are_whole_json_numbers_only() -> None:
    parse = SCALARS[BigInt].parse_value
    assert parse is not None
    assert parse(10 * 1024**3) == 10 * 1024**3 and parse(0) == 0
    for bad in (1.5, "12", True, None, 2**53 + 1, [1]):
        with pytest.raises(GraphQLError, match="BigInt must be a whole number"):
            parse(bad)


async def test_a_thumbnail_link_does_not_open_the_original(world: World) -> None:
    """A thumbnail's signature is for the thumbnail only: shared to show a preview, it must not
    download the full-resolution file. A file's link may open its thumbnail (a lesser view)."""
    still = make.image("png", 1600, 900)
    job_id, _ = await world.job(world.me, [(still, "image/png")])
    (output,) = (await world.data(world.me, JOB_OUTPUTS, id=job_id))["job"]["outputs"]
    thumb_query = output["thumbnailUrl"].split("?", 1)[1]
    file_query = output["url"].split("?", 1)[1]

    original = await world.fetch(f"{world.settings.public_url}/files/{output['id']}?{thumb_query}")
    assert original.status_code == 403, original.status_code
    assert original.json()["error"]["code"] == "FORBIDDEN" and original.content != still
    # the thumbnail link itself works, and so does the file's link on the thumbnail route
    assert (await world.fetch(output["thumbnailUrl"])).status_code == 200
    via_file_link = await world.fetch(
        f"{world.settings.public_url}/files/{output['id']}/thumbnail?{file_query}"
    )
    assert via_file_link.status_code == 200 and via_file_link.headers["content-type"] == "image/webp"
    # the REST form's thumbnail link is as narrow
    rest = (await world.rest(world.me, f"/api/v1/creative-hub/jobs/{job_id}")).json()["outputs"][0]
    rest_query = rest["thumbnail_url"].split("?", 1)[1]
    assert (
        await world.fetch(f"{world.settings.public_url}/files/{output['id']}?{rest_query}")
    ).status_code == 403


async def test_a_bigint_written_in_the_document_is_checked_like_a_variable(world: World) -> None:
    """Found by the fuzzer: a BigInt literal that is not a whole number ("12", 1.5, true) answered
    "Internal server error"; it is the client's mistake, a validation error naming the value."""
    for literal in ('"12"', "1.5", "true"):
        answer = await world.gql(
            world.me,
            'mutation { createUpload(input: {name: "a.png", contentType: "image/png", sizeBytes: '
            + literal
            + "}) { upload { fileId } userErrors { code } } }",
        )
        (error,) = answer["errors"]
        assert "Internal server error" not in error["message"], (literal, error)
        assert "BigInt" in error["message"], (literal, error)
    fine = await world.data(
        world.me,
        'mutation { createUpload(input: {name: "a.png", contentType: "image/png", sizeBytes: 12}) '
        "{ upload { fileId } userErrors { code } } }",
    )
    assert fine["createUpload"]["userErrors"] == [] and fine["createUpload"]["upload"]["fileId"]


async def test_a_signature_that_is_not_ascii_is_refused_not_a_fault(world: World) -> None:
    """Found by the fuzzer: hmac.compare_digest raises TypeError on a non-ASCII str, which answered
    500; a forged signature of any characters is a 403 like any other forged one."""
    image = make.image("png", 64, 64)
    job_id, _ = await world.job(world.me, [(image, "image/png")])
    (output,) = (await world.data(world.me, JOB_OUTPUTS, id=job_id))["job"]["outputs"]
    base = f"{world.settings.public_url}/files/{output['id']}"
    for route in (base, f"{base}/thumbnail"):
        forged = await world.fetch(f"{route}?expires=9999999999&signature=%C3%A9t%C3%A9")
        assert forged.status_code == 403, (route, forged.status_code)
        assert forged.json()["error"]["code"] == "FORBIDDEN"
