"""docs/partners.md is true: every bash and python example in it runs against a real service and
does what the text says (the examples check their own results with jq -e / assert)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.stack import ROOT, Stack, Team
from tests.test_generation import submit_ok
from tests.webhook_receiver import running_receiver

DOC = ROOT / "docs" / "partners.md"
BLOCK = re.compile(r"^```(bash|python)\n(.*?)^```", re.DOTALL | re.MULTILINE)
ENDPOINTS = "{ webhookEndpoints { id } }"


def examples() -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in BLOCK.finditer(DOC.read_text())]


def _env(stack: Stack, team: Team, webhook_url: str) -> dict[str, str]:
    return {**os.environ, "CH_URL": stack.url, "CH_API_KEY": team.api_key, "WEBHOOK_URL": webhook_url}


def _run(language: str, code: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    command = ["bash", "-euo", "pipefail", "-c", code] if language == "bash" else [sys.executable, "-c", code]
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=90)


async def test_every_example_in_the_partner_guide_runs(stack: Stack, tmp_path: Path) -> None:
    if stack.env["CH_DATABASE_URL"].startswith("postgres"):
        pytest.skip("the guide's examples do not depend on the database; run once, on SQLite")
    team = stack.create_team(5_000)
    blocks = examples()
    assert (
        len([b for b in blocks if b[0] == "bash"]) >= 5 and len([b for b in blocks if b[0] == "python"]) == 3
    )
    verifier: dict[str, Any] = {}
    async with running_receiver() as receiver:
        env = _env(stack, team, receiver.url)
        for language, code in blocks:
            if "def verify_webhook" in code:
                exec(compile(code, str(DOC), "exec"), verifier)  # defines verify_webhook
                continue
            # Run off the event loop: the receiver answers deliveries meanwhile.
            done = await asyncio.to_thread(_run, language, code, env, tmp_path)
            assert done.returncode == 0, (code, done.stdout, done.stderr)

        # The endpoint the guide created gets signed deliveries that the guide's verifier accepts.
        endpoint_id = (await stack.data(team, ENDPOINTS))["webhookEndpoints"][0]["id"]
        rotated = await stack.data(
            team, "mutation ($id: ID!) { rotateWebhookSecret(id: $id) { secret } }", {"id": endpoint_id}
        )
        secret = rotated["rotateWebhookSecret"]["secret"]
        job = await submit_ok(stack, team, "tts", {"text": "verify me"})
        await receiver.wait_for(lambda r: any(x.body["data"].get("id") == job["id"] for x in r.received), 60)
        got = next(x for x in receiver.received if x.body["data"].get("id") == job["id"])
        event = verifier["verify_webhook"](secret, got.headers, got.raw)
        assert event["type"] == "job.completed" and event["data"]["id"] == job["id"]
        with pytest.raises(ValueError, match="no valid signature"):
            verifier["verify_webhook"](secret, got.headers, got.raw.replace(b"completed", b"failed"))
        stale = {**got.headers, "webhook-timestamp": str(int(got.headers["webhook-timestamp"]) - 3600)}
        with pytest.raises(ValueError, match="too old"):
            verifier["verify_webhook"](secret, stale, got.raw)
