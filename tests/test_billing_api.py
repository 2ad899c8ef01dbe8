"""Team billing through the real interfaces: spend caps (GraphQL, REST, creatives), who submitted
a job, the team's members, the ledger as CSV, billing contacts, and the low-balance email read
from a real SMTP server in the test process (tests/smtp_server.py). The rules themselves:
tests/test_spend_caps.py."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from typing import Any

import httpx
import pytest

from tests.smtp_server import SMTPServer
from tests.stack import Stack, Team, follow_job
from tests.test_creatives_api import VOICEOVER
from tests.test_creatives_api import create as create_creative
from tests.test_generation import balance
from tests.test_partners import create_key, member_of

ERRORS = "userErrors { code message field }"
CAP = "id subject { kind id name } period limitCents spentCents remainingCents periodStartsAt periodEndsAt"
SET_CAP = f"mutation ($input: SetSpendCapInput!) {{ setSpendCap(input: $input) {{ spendCap {{ {CAP} }} {ERRORS} }} }}"
CAPS = f"{{ spendCaps {{ {CAP} }} }}"
VIDEO = f"""mutation ($input: GenerateVideoInput!) {{ generateVideo(input: $input) {{
  job {{ id estimatedCostCents }} batch {{ id }} {ERRORS} }} }}"""
CONTACTS = (
    f"mutation ($emails: [String!]!) {{ setBillingContacts(emails: $emails) {{ billingContacts {ERRORS} }} }}"
)
THRESHOLD = f"mutation ($c: Int) {{ setLowBalanceThreshold(cents: $c) {{ creditBalance {{ lowBalance }} {ERRORS} }} }}"
A_VIDEO = {"prompt": "a lighthouse at dusk", "durationSeconds": 5}  # 60 cents on the default provider


async def video(stack: Stack, team: Team, **extra: Any) -> dict[str, Any]:
    payload: dict[str, Any] = (await stack.data(team, VIDEO, {"input": {**A_VIDEO, **extra}}))[
        "generateVideo"
    ]
    return payload


async def set_cap(stack: Stack, team: Team, **input: Any) -> dict[str, Any]:
    payload: dict[str, Any] = (await stack.data(team, SET_CAP, {"input": input}))["setSpendCap"]
    return payload


def key_of(created: dict[str, Any], team: Team) -> Team:
    return Team(team.team_id, team.user_id, created["secret"])


# -- spend caps ----------------------------------------------------------------------------------------


async def test_a_member_cap_refuses_with_its_message_and_holds_nothing(stack: Stack) -> None:
    owner = stack.create_team(50_000)
    member = member_of(stack, owner, "member")
    refused = await set_cap(stack, member, userId=member.user_id, period="DAY", limitCents=0)
    assert refused["userErrors"][0]["code"] == "FORBIDDEN"  # a member cannot cap anyone

    first = await video(stack, member)
    assert first["userErrors"] == []
    cost = first["job"]["estimatedCostCents"]
    limit = cost + cost // 2
    payload = await set_cap(stack, owner, userId=member.user_id, period="DAY", limitCents=limit)
    assert payload["userErrors"] == []
    assert payload["spendCap"]["subject"] == {
        "kind": "MEMBER",
        "id": member.user_id,
        "name": payload["spendCap"]["subject"]["name"],
    }
    assert (payload["spendCap"]["spentCents"], payload["spendCap"]["remainingCents"]) == (cost, limit - cost)
    assert payload["spendCap"]["periodStartsAt"].endswith(("T00:00:00+00:00", "T00:00:00Z"))

    # The first job ends before "nothing held" is measured: its capture moves the balance.
    (*_, ended) = await follow_job(stack, member, first["job"]["id"])
    spent = ended["costCents"] if ended["status"] == "COMPLETED" else 0
    before = await balance(stack, owner)
    over = await video(stack, member, variants=2)
    assert over["job"] is None and over["batch"] is None
    (error,) = over["userErrors"]
    assert error["code"] == "SPEND_CAP_EXCEEDED"
    assert error["message"].startswith(
        f"your daily spend cap of ${limit / 100:,.2f} would be exceeded: ${spent / 100:,.2f} spent today, "
        f"this request needs ${2 * cost / 100:,.2f}"
    ), error
    assert await balance(stack, owner) == before  # nothing held

    # the REST form and creatives are refused the same way
    async with httpx.AsyncClient(timeout=30) as client:
        rest = await client.post(
            f"{stack.url}/api/v1/creative-hub/generate/video",
            json={"prompt": "a lighthouse", "duration_seconds": 5},
            headers=member.headers,
        )
    assert rest.status_code == 402 and rest.json()["error"]["code"] == "SPEND_CAP_EXCEEDED", rest.text
    creative = await create_creative(stack, member, VOICEOVER)
    assert creative["creative"] is None and creative["userErrors"][0]["code"] == "SPEND_CAP_EXCEEDED"
    assert await balance(stack, owner) == before

    # the owner is not capped by the member's cap; clearing lets the member submit again
    assert (await video(stack, owner))["userErrors"] == []
    cleared = await set_cap(stack, owner, userId=member.user_id, period="DAY", limitCents=None)
    assert cleared == {"spendCap": None, "userErrors": []}
    assert (await stack.data(owner, CAPS))["spendCaps"] == []
    assert (await video(stack, member))["userErrors"] == []


async def test_a_key_cap_counts_the_jobs_that_key_submitted(stack: Stack) -> None:
    owner = stack.create_team(50_000)
    created = await create_key(stack, owner, ["READ", "GENERATE", "BILLING"], name="ci-bot")
    bot = key_of(created, owner)
    key_id = created["apiKey"]["id"]
    payload = await set_cap(stack, owner, apiKeyId=key_id, period="MONTH", limitCents=0)
    assert payload["spendCap"]["subject"] == {"kind": "API_KEY", "id": key_id, "name": "ci-bot"}
    (error,) = (await video(stack, bot))["userErrors"]
    assert error["code"] == "SPEND_CAP_EXCEEDED"
    assert error["message"].startswith(
        "API key 'ci-bot' monthly spend cap of $0.00 would be exceeded: $0.00 spent this month"
    )

    await set_cap(stack, owner, apiKeyId=key_id, period="MONTH", limitCents=10_000)
    job = (await video(stack, bot))["job"]
    assert (await video(stack, owner))["userErrors"] == []  # the owner's own key: not the bot's spend
    (cap,) = (await stack.data(owner, CAPS))["spendCaps"]
    assert cap["spentCents"] == job["estimatedCostCents"]  # the job records the key that submitted it
    await follow_job(stack, owner, job["id"])
    (cap,) = (await stack.data(owner, CAPS))["spendCaps"]
    assert cap["spentCents"] <= job["estimatedCostCents"]  # its captured cost now

    # another team's key (or member) answers like one that does not exist
    other = stack.create_team(1_000)
    foreign = await set_cap(stack, other, apiKeyId=key_id, period="DAY", limitCents=1)
    assert foreign["userErrors"][0]["code"] == "NOT_FOUND"
    foreign = await set_cap(stack, other, userId=owner.user_id, period="DAY", limitCents=1)
    assert foreign["userErrors"][0]["code"] == "NOT_FOUND"


# -- who submitted a job, the team's members, the ledger's jobs --------------------------------------------


async def test_jobs_and_ledger_rows_say_who_submitted_them(stack: Stack) -> None:
    owner = stack.create_team(50_000)
    member = member_of(stack, owner, "member")
    job = (await video(stack, member))["job"]
    members = (await stack.data(owner, "{ teamMembers { id userId name email role } }"))["teamMembers"]
    assert [m["role"] for m in members] == ["OWNER", "MEMBER"]
    me = next(m for m in members if m["id"] == member.user_id)
    assert me["userId"] == member.user_id and me["email"].endswith("@example.com")

    jobs = await stack.data(
        owner, "{ jobs(first: 10) { nodes { id submittedBy { id userId name email role } } } }"
    )
    assert jobs["jobs"]["nodes"] == [{"id": job["id"], "submittedBy": me}]
    ledger = await stack.data(
        owner,
        "{ creditTransactions(first: 10) { nodes { kind jobId job { id type provider submittedBy { email } } } } }",
    )
    rows = {row["kind"]: row for row in ledger["creditTransactions"]["nodes"]}
    assert rows["TOP_UP"]["job"] is None
    assert rows["HOLD"]["job"]["id"] == job["id"] and rows["HOLD"]["job"]["type"] == "VIDEO"
    assert rows["HOLD"]["job"]["submittedBy"] == {"email": me["email"]}

    other = stack.create_team(1_000)
    assert [m["id"] for m in (await stack.data(other, "{ teamMembers { id } }"))["teamMembers"]] == [
        other.user_id
    ]


# -- the ledger as CSV --------------------------------------------------------------------------------------


async def test_the_ledger_downloads_as_csv(stack: Stack) -> None:
    from models import credits

    owner = stack.create_team(50_000)
    stack.database.run(lambda: credits.top_up(owner.team_id, 100, '=HYPERLINK("http://evil")'))
    job = (await video(stack, owner))["job"]
    reader = key_of(await create_key(stack, owner, ["READ"], name="reader"), owner)
    url = f"{stack.url}/api/v1/creative-hub/ledger.csv"
    async with httpx.AsyncClient(timeout=30) as client:
        assert (await client.get(url)).status_code == 401
        assert (await client.get(url, headers=reader.headers)).status_code == 403
        bad = await client.get(url, params={"kinds": "HOLD,NOPE"}, headers=owner.headers)
        assert bad.status_code == 400 and bad.json()["error"]["field"] == ["kinds"]
        assert (await client.get(url, params={"from": "yesterday"}, headers=owner.headers)).status_code == 400
        response = await client.get(url, headers=owner.headers)
        held = await client.get(url, params={"kinds": "hold", "from": "2020-01-01"}, headers=owner.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="creative-hub-ledger-') and disposition.endswith(
        '.csv"'
    )
    table = list(csv.reader(io.StringIO(response.text)))
    assert table[0] == [
        "created_at",
        "kind",
        "amount_cents",
        "balance_after_cents",
        "available_after_cents",
        "job_id",
        "job_type",
        "provider",
        "user_email",
        "description",
    ]
    body = [dict(zip(table[0], row, strict=True)) for row in table[1:]]
    assert [row["kind"] for row in body] == ["HOLD", "TOP_UP", "TOP_UP"]  # newest first
    hold = body[0]
    assert hold["job_id"] == job["id"] and hold["job_type"] == "video" and hold["provider"]
    assert hold["user_email"].startswith("owner+") and int(hold["amount_cents"]) == job["estimatedCostCents"]
    assert body[1]["description"] == '\'=HYPERLINK("http://evil")'  # never a formula in a spreadsheet
    assert body[2]["job_id"] == "" and body[2]["amount_cents"] == "50000"
    assert [row[1] for row in csv.reader(io.StringIO(held.text))][1:] == ["HOLD"]


# -- billing contacts and the low-balance email ------------------------------------------------------------


def contacts() -> list[str]:
    tag = uuid.uuid4().hex[:8]
    return [f"billing-{tag}@example.com", f"cfo-{tag}@example.com"]


async def test_billing_contacts_are_set_by_admins_and_validated(stack: Stack) -> None:
    owner = stack.create_team(1_000)
    member = member_of(stack, owner, "member")
    emails = contacts()
    ok = (await stack.data(owner, CONTACTS, {"emails": emails}))["setBillingContacts"]
    assert ok == {"billingContacts": emails, "userErrors": []}
    assert (await stack.data(owner, "{ billingContacts }"))["billingContacts"] == emails
    bad = (await stack.data(owner, CONTACTS, {"emails": [emails[0], "not an email"]}))["setBillingContacts"]
    assert bad["billingContacts"] is None and bad["userErrors"][0]["field"] == ["emails", "1"]
    denied = (await stack.data(member, CONTACTS, {"emails": []}))["setBillingContacts"]
    assert denied["userErrors"][0]["code"] == "FORBIDDEN"
    assert (await stack.data(owner, "{ billingContacts }"))["billingContacts"] == emails


async def spend_until_crossed(stack: Stack, team: Team, count: int) -> None:
    for _ in range(count):
        payload = await video(stack, team)
        assert payload["userErrors"] == [], payload


@pytest.mark.both_databases
async def test_one_low_balance_email_per_crossing(stack: Stack, smtp_server: SMTPServer) -> None:
    from models import credits

    team = stack.create_team(1_000)
    emails = contacts()
    await stack.data(team, CONTACTS, {"emails": emails})
    assert (await stack.data(team, THRESHOLD, {"c": 900}))["setLowBalanceThreshold"]["userErrors"] == []
    await spend_until_crossed(stack, team, 2)  # 1000 → 940 → 880: crosses
    await spend_until_crossed(stack, team, 1)  # still below: no second email
    (mail,) = await smtp_server.wait_for(emails[0], 1)
    assert mail.message["From"] == "Creative Hub <billing@hub.test>"
    assert sorted(a.strip() for a in mail.message["To"].split(",")) == sorted(emails)
    assert sorted(mail.rcpt_tos) == sorted(emails)
    name = stack.database.run(lambda: _team_name(team.team_id))
    assert (
        mail.message["Subject"] == f"Creative Hub: {name} credits are low ($8.80 available, threshold $9.00)"
    )
    assert "Available: $8.80" in mail.body and "Threshold: $9.00" in mail.body
    assert f"{stack.url}/app/#/billing" in mail.body or "/app/#/billing" in mail.body

    stack.database.run(lambda: credits.top_up(team.team_id, 1_000, "top-up"))  # above again: re-armed
    now = await balance(stack, team)
    await spend_until_crossed(stack, team, (now["availableCents"] - 900) // 60 + 1)  # crosses again
    second = await smtp_server.wait_for(emails[0], 2)
    assert len(second) == 2 and len(smtp_server.to(emails[1])) == 2
    await _all_sent(stack, team)
    assert len(smtp_server.to(emails[0])) == 2


async def test_a_team_name_with_a_line_break_gets_one_clean_email(
    stack: Stack, smtp_server: SMTPServer
) -> None:
    """A line break in the team's name cannot end the Subject header (nor add a Bcc): the email
    goes out once, to its contacts only, with the name on one line."""
    from models.teams import Team as TeamRow

    team = stack.create_team(1_000)
    stack.database.run(lambda: TeamRow.filter(id=team.team_id).update(name="Acme\r\nBcc: evil@x.com"))
    emails = contacts()
    await stack.data(team, CONTACTS, {"emails": emails[:1]})
    await stack.data(team, THRESHOLD, {"c": 990})
    await spend_until_crossed(stack, team, 1)
    (mail,) = await smtp_server.wait_for(emails[0], 1, within=30)
    assert await _all_sent(stack, team) == 1
    assert mail.rcpt_tos == [emails[0]] and smtp_server.to("evil@x.com") == []
    assert mail.message["Bcc"] is None
    subject = mail.message["Subject"]
    assert "\r" not in subject and "\n" not in subject
    assert subject.startswith("Creative Hub: Acme Bcc: evil@x.com credits are low"), subject
    assert len(smtp_server.to(emails[0])) == 1


async def _team_name(team_id: str) -> str:
    from models.teams import Team as TeamRow

    return (await TeamRow.get(id=team_id)).name


async def _all_sent(stack: Stack, team: Team, within: float = 30.0) -> int:
    """Until every low-balance email of the team is recorded sent (the outbox says so); their count."""
    from models.billing import BillingEmail, EmailStatus

    async def pending() -> tuple[int, int]:
        rows = await BillingEmail.filter(team_id=team.team_id)
        return len(rows), sum(1 for r in rows if r.status != EmailStatus.SENT)

    async with asyncio.timeout(within):
        while True:
            total, open_ = stack.database.run(pending)
            if not open_:
                return total
            await asyncio.sleep(0.05)


@pytest.mark.both_databases
async def test_concurrent_charges_crossing_once_send_one_email(stack: Stack, smtp_server: SMTPServer) -> None:
    team = stack.create_team(1_000)
    emails = contacts()
    await stack.data(team, CONTACTS, {"emails": emails[:1]})
    await stack.data(team, THRESHOLD, {"c": 900})
    results = await asyncio.gather(*(video(stack, team) for _ in range(8)))  # 1000 → 520, crossing once
    assert all(r["userErrors"] == [] for r in results), results
    await smtp_server.wait_for(emails[0], 1)
    assert await _all_sent(stack, team) == 1
    assert len(smtp_server.to(emails[0])) == 1


async def test_a_refused_email_is_retried_and_sent_once(stack: Stack, smtp_server: SMTPServer) -> None:
    team = stack.create_team(1_000)
    emails = contacts()
    smtp_server.refuse(emails[0], 2)  # the server answers 451 twice
    await stack.data(team, CONTACTS, {"emails": emails[:1]})
    await stack.data(team, THRESHOLD, {"c": 990})
    await spend_until_crossed(stack, team, 1)
    (mail,) = await smtp_server.wait_for(emails[0], 1)
    assert smtp_server.refusals.count(emails[0].lower()) == 2
    assert await _all_sent(stack, team) == 1
    assert "credits are low" in mail.message["Subject"]
