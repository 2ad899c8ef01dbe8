"""Spend caps, billing contacts and the ledger CSV as domain rules, in-process on SQLite and
PostgreSQL (models/spend_caps.py, models/billing.py, models/ledger_csv.py). The contract runs
through GraphQL, REST and a real SMTP server in tests/test_billing_api.py."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from models import batches, billing, credits, ledger_csv, spend_caps
from models import jobs as job_ops
from models.errors import DomainError, ErrorCode
from models.events import LOW_BALANCE, TeamEvent
from models.jobs import CreativeJob, JobStatus, NewJob
from models.spend_caps import Period
from models.teams import ApiKey, Role, Team, add_member, create_team
from tests.test_creatives import database  # noqa: F401  (the fixture)


class Events:
    async def job_changed(self, job: CreativeJob) -> None:
        pass

    async def balance_changed(self, team_id: uuid.UUID | str) -> None:
        pass

    async def enqueue_job(self, job_id: str) -> None:
        pass


EVENTS = Events()


def new_job(
    team_id: uuid.UUID, user_id: uuid.UUID, cents: int, api_key_id: uuid.UUID | None = None
) -> NewJob:
    return NewJob(
        team_id=team_id,
        user_id=user_id,
        type="image",
        provider="flux2_pro",
        prompt="a bottle of olive oil",
        settings={},
        drive_folder_id=uuid.uuid4(),
        estimated_cost_cents=cents,
        api_key_id=api_key_id,
    )


async def submit(
    team_id: uuid.UUID, user_id: uuid.UUID, *cents: int, api_key_id: uuid.UUID | None = None
) -> list[CreativeJob]:
    plan = batches.Plan([new_job(team_id, user_id, c, api_key_id) for c in cents], len(cents), [])
    return (await batches.submit(plan, queue=EVENTS, events=EVENTS)).jobs


async def refused(team_id: uuid.UUID, user_id: uuid.UUID, *cents: int, **kw: Any) -> DomainError:
    with pytest.raises(DomainError) as caught:
        await submit(team_id, user_id, *cents, **kw)
    return caught.value


async def a_team(credits_cents: int = 100_000) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """A team with credits: its id, its owner's id, the owner's key's id."""
    made = await create_team(f"caps-{uuid.uuid4().hex[:6]}")
    await credits.top_up(made.team.id, credits_cents)
    key = await ApiKey.get(team_id=made.team.id)
    return made.team.id, made.user.id, key.id


# -- periods ----------------------------------------------------------------------------------------


def test_periods_are_utc_calendar_days_and_months() -> None:
    at = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    assert spend_caps.period_bounds(Period.DAY, at) == (
        datetime(2026, 12, 31, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert spend_caps.period_bounds(Period.MONTH, at) == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert spend_caps.period_bounds(Period.MONTH, datetime(2026, 2, 10, tzinfo=UTC))[1] == datetime(
        2026, 3, 1, tzinfo=UTC
    )


# -- caps on a database -------------------------------------------------------------------------------


@pytest.mark.usefixtures("database")
async def test_a_member_cap_refuses_the_whole_request_and_holds_nothing() -> None:
    team_id, owner, _ = await a_team()
    member = await add_member(team_id, f"{uuid.uuid4().hex[:6]}@example.com", Role.MEMBER)
    await spend_caps.set_cap(
        team_id, user_id=str(member.id), api_key_id=None, period=Period.DAY, limit_cents=2_000
    )
    await submit(team_id, member.id, 1_850)
    before = await Team.get(id=team_id)
    error = await refused(team_id, member.id, 200, 200)  # a batch of two: refused whole
    assert error.code == ErrorCode.SPEND_CAP_EXCEEDED
    assert error.message == (
        "your daily spend cap of $20.00 would be exceeded: $18.50 spent today, this request needs $4.00; "
        "nothing was held (a team admin can raise the cap)."
    ), error.message  # a whole sentence, as the web app shows it
    after = await Team.get(id=team_id)
    assert (after.balance_cents, after.available_cents) == (before.balance_cents, before.available_cents)
    assert await CreativeJob.filter(team_id=team_id).count() == 1
    await submit(team_id, member.id, 150)  # exactly up to the cap passes
    await submit(team_id, owner, 5_000)  # another member is not capped by it


@pytest.mark.usefixtures("database")
async def test_a_key_cap_counts_only_what_the_key_submitted() -> None:
    team_id, owner, key_id = await a_team()
    await ApiKey.filter(id=key_id).update(name="ci-bot")
    await spend_caps.set_cap(
        team_id, user_id=None, api_key_id=str(key_id), period=Period.MONTH, limit_cents=1_000
    )
    await submit(team_id, owner, 5_000)  # the same person without the key (a JWT): not the key's spend
    await submit(team_id, owner, 600, api_key_id=key_id)
    error = await refused(team_id, owner, 500, api_key_id=key_id)
    assert error.code == ErrorCode.SPEND_CAP_EXCEEDED
    assert error.message.startswith(
        "API key 'ci-bot' monthly spend cap of $10.00 would be exceeded: $6.00 spent this month, "
        "this request needs $5.00"
    ), error.message
    job = (await CreativeJob.filter(team_id=team_id, api_key_id=key_id))[0]
    assert job.estimated_cost_cents == 600  # the job records the key that submitted it


@pytest.mark.usefixtures("database")
async def test_spend_is_open_holds_plus_captured_cost_released_holds_do_not_count() -> None:
    team_id, owner, _ = await a_team()
    since = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    opened, failed, done, canceled = await submit(team_id, owner, 100, 200, 400, 800)
    assert await spend_caps.spent_cents(team_id, user_id=owner, since=since) == 1_500
    await job_ops.fail(failed, "refused by the provider", events=EVENTS)  # released: free
    await job_ops.cancel(team_id, str(canceled.id), events=EVENTS)  # not submitted: free
    started = await job_ops.start(done, events=EVENTS)
    assert started is not None
    await job_ops.complete(done, result_urls=[], cost_cents=250, metadata={}, events=EVENTS)  # 150 released
    assert await spend_caps.spent_cents(team_id, user_id=owner, since=since) == 100 + 250
    statuses = {s.cap.period: s for s in await spend_caps.team_caps(team_id)}
    assert statuses == {}  # no cap, nothing listed
    await spend_caps.set_cap(team_id, user_id=str(owner), api_key_id=None, period=Period.DAY, limit_cents=400)
    (status,) = await spend_caps.team_caps(team_id)
    assert (status.spent_cents, status.remaining_cents) == (350, 50)
    assert opened.status == JobStatus.PENDING


@pytest.mark.usefixtures("database")
async def test_an_accepted_job_is_never_failed_by_a_cap() -> None:
    """A provider's cost above the hold is recorded, not capped: the job completes."""
    team_id, owner, _ = await a_team()
    (job,) = await submit(team_id, owner, 500)
    await spend_caps.set_cap(team_id, user_id=str(owner), api_key_id=None, period=Period.DAY, limit_cents=0)
    assert await job_ops.start(job, events=EVENTS) is not None
    assert await job_ops.complete(job, result_urls=[], cost_cents=900, metadata={}, events=EVENTS)
    await job.refresh_from_db()
    assert (job.status, job.cost_cents, job.overrun_cents) == (JobStatus.COMPLETED, 500, 400)


@pytest.mark.usefixtures("database")
async def test_concurrent_submissions_never_both_pass_a_cap_they_jointly_exceed() -> None:
    team_id, owner, _ = await a_team()
    await spend_caps.set_cap(
        team_id, user_id=str(owner), api_key_id=None, period=Period.DAY, limit_cents=1_000
    )
    outcomes = await asyncio.gather(*(submit(team_id, owner, 300) for _ in range(8)), return_exceptions=True)
    passed = [o for o in outcomes if isinstance(o, list)]
    refusals = [o for o in outcomes if isinstance(o, DomainError)]
    assert len(passed) == 3 and len(refusals) == 5, outcomes
    assert {r.code for r in refusals} == {ErrorCode.SPEND_CAP_EXCEEDED}
    team = await Team.get(id=team_id)
    assert team.balance_cents - team.available_cents == 900


@pytest.mark.usefixtures("database")
async def test_set_cap_rules() -> None:
    team_id, owner, key_id = await a_team()
    other_team, other_owner, other_key = await a_team()

    async def error(**kw: Any) -> DomainError:
        args: dict[str, Any] = {"user_id": None, "api_key_id": None, "period": Period.DAY, "limit_cents": 100}
        with pytest.raises(DomainError) as caught:
            await spend_caps.set_cap(team_id, **{**args, **kw})
        return caught.value

    assert (await error()).code == ErrorCode.VALIDATION_FAILED  # neither
    assert (await error(user_id=str(owner), api_key_id=str(key_id))).code == ErrorCode.VALIDATION_FAILED
    assert (await error(user_id=str(owner), limit_cents=-1)).code == ErrorCode.VALIDATION_FAILED
    assert (await error(user_id=str(other_owner))).code == ErrorCode.NOT_FOUND  # another team's member
    assert (await error(api_key_id=str(other_key))).code == ErrorCode.NOT_FOUND
    assert (await error(user_id="not-a-uuid")).code == ErrorCode.NOT_FOUND
    cap = await spend_caps.set_cap(
        team_id, user_id=str(owner), api_key_id=None, period=Period.DAY, limit_cents=5
    )
    again = await spend_caps.set_cap(
        team_id, user_id=str(owner), api_key_id=None, period=Period.DAY, limit_cents=7
    )
    assert cap is not None and again is not None and again.id == cap.id and again.limit_cents == 7
    assert (
        await spend_caps.set_cap(
            team_id, user_id=str(owner), api_key_id=None, period=Period.DAY, limit_cents=None
        )
        is None
    )
    assert await spend_caps.team_caps(team_id) == []
    assert other_team != team_id


# -- billing contacts and the email outbox ---------------------------------------------------------------


def test_billing_contacts_are_validated() -> None:
    assert billing.normalize_contacts([" Ana@Example.COM ", "ana@example.com", "b@x.io"]) == [
        "Ana@example.com",
        "b@x.io",
    ]
    for bad in ["", "no-at-sign", "a@b", "a b@example.com", "<a@example.com>", "a@example.com,b@example.com"]:
        with pytest.raises(DomainError) as caught:
            billing.normalize_contacts(["ok@example.com", bad])
        assert caught.value.field == ["emails", "1"], bad
    with pytest.raises(DomainError):
        billing.normalize_contacts([f"p{i}@example.com" for i in range(11)])


def test_a_huge_contact_list_is_refused_before_any_address_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """The list is bounded first: a request body full of addresses costs one length check."""
    read: list[str] = []
    real = billing.EMAIL

    class Counting:
        def match(self, text: str) -> object:
            read.append(text)
            return real.match(text)

    monkeypatch.setattr(billing, "EMAIL", Counting())
    with pytest.raises(DomainError) as caught:
        billing.normalize_contacts(["a@example.com"] * 10_000)
    assert caught.value.field == ["emails"] and read == []
    assert billing.normalize_contacts(["a@example.com"] * 12) == ["a@example.com"]  # duplicates still fold


@pytest.mark.usefixtures("database")
async def test_one_email_per_crossing_is_recorded_with_the_event() -> None:
    team_id, _, _ = await a_team(1_000)
    await billing.set_contacts(team_id, ["billing@example.com", "cfo@example.com"])
    await credits.set_low_balance_threshold(team_id, 900)
    (job,) = await submit(team_id, (await a_member(team_id)), 200)  # 1000 → 800: crosses
    await submit(team_id, await a_member(team_id), 100)  # still below: no second email
    emails = await billing.BillingEmail.filter(team_id=team_id)
    assert len(emails) == 1 and emails[0].recipients == ["billing@example.com", "cfo@example.com"]
    event = await TeamEvent.get(id=emails[0].event_id)
    assert event.kind == LOW_BALANCE and event.payload["available_cents"] == 800
    subject, body = billing.low_balance_message("Acme", event.payload, "https://hub.example/app/#/billing")
    assert subject == "Creative Hub: Acme credits are low ($8.00 available, threshold $9.00)"
    assert "https://hub.example/app/#/billing" in body and "$10.00" in body
    await job_ops.fail(job, "refused", events=EVENTS)  # 200 back: 900, at the threshold: re-armed
    await submit(team_id, await a_member(team_id), 50)  # crosses again
    assert await billing.BillingEmail.filter(team_id=team_id).count() == 2


async def a_member(team_id: uuid.UUID) -> uuid.UUID:
    return (await add_member(team_id, f"{uuid.uuid4().hex[:6]}@example.com", Role.MEMBER)).id


# -- the ledger CSV -----------------------------------------------------------------------------------------


def test_csv_cells_a_spreadsheet_would_run_are_defused() -> None:
    assert [ledger_csv.safe_cell(v) for v in ["=1+1", "+1", "-2", "@SUM(A1)", "\tx", "ok", 5, None]] == [
        "'=1+1",
        "'+1",
        "'-2",
        "'@SUM(A1)",
        "'\tx",
        "ok",
        5,
        "",
    ]
    assert ledger_csv.parse_kinds("capture, Hold") == [credits.Kind.CAPTURE, credits.Kind.HOLD]
    with pytest.raises(DomainError):
        ledger_csv.parse_kinds("CAPTURE,NOPE")
    assert ledger_csv.parse_time("2026-12-01", "from") == datetime(2026, 12, 1, tzinfo=UTC)


@pytest.mark.usefixtures("database")
async def test_without_an_smtp_host_the_email_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    """Development: no CH_SMTP_HOST, so the worker writes the message to its log (and records it
    sent: a second attempt finds nothing due)."""
    from types import SimpleNamespace

    from services.settings import Settings
    from tasks import billing_email

    team_id, owner, _ = await a_team(1_000)
    await billing.set_contacts(team_id, ["dev@example.com"])
    await credits.set_low_balance_threshold(team_id, 1_000)
    await submit(team_id, owner, 10)  # crosses
    (email,) = await billing.BillingEmail.filter(team_id=team_id)
    settings = Settings(env="development", smtp_host=None, public_base_url="https://hub.example")
    services: Any = SimpleNamespace(settings=settings)
    with caplog.at_level("WARNING", logger="tasks.billing_email"):
        assert await billing_email.deliver(services, str(email.id)) == "logged"
    assert "To: dev@example.com" in caplog.text
    assert "credits are low ($9.90 available, threshold $10.00)" in caplog.text
    assert "https://hub.example/app/#/billing" in caplog.text
    assert await billing_email.deliver(services, str(email.id)) == "not due"
    await email.refresh_from_db()
    assert email.status == billing.EmailStatus.SENT and email.sent_at is not None


@pytest.mark.usefixtures("database")
async def test_an_email_that_cannot_be_built_fails_once_and_is_not_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A message the email library refuses to build (here a recipient stored with a line break)
    is a permanent failure: recorded failed at once, logged once, never due again."""
    from types import SimpleNamespace

    from services.settings import Settings
    from tasks import billing_email

    team_id, owner, _ = await a_team(1_000)
    await billing.set_contacts(team_id, ["ops@example.com"])
    await credits.set_low_balance_threshold(team_id, 1_000)
    await submit(team_id, owner, 10)  # crosses
    (email,) = await billing.BillingEmail.filter(team_id=team_id)
    await billing.BillingEmail.filter(id=email.id).update(recipients=["ops@example.com\nBcc: evil@x.com"])
    settings = Settings(env="development", smtp_host=None)
    services: Any = SimpleNamespace(settings=settings)
    with caplog.at_level("INFO", logger="tasks.billing_email"):
        assert await billing_email.deliver(services, str(email.id)) == "unsendable"
        assert await billing_email.deliver(services, str(email.id)) == "not due"
    (record,) = [r for r in caplog.records if r.name == "tasks.billing_email"]
    assert record.levelname == "ERROR" and str(email.id) in record.getMessage()
    await email.refresh_from_db()
    assert email.status == billing.EmailStatus.FAILED and email.next_attempt_at is None
    assert email.attempts == 1 and "ValueError" in (email.last_error or "")
    assert await billing.due_ids(team_id) == []


def test_a_team_name_is_one_line_in_the_subject() -> None:
    payload = {"available_cents": 800, "balance_cents": 1_000, "low_balance_threshold_cents": 900}
    subject, body = billing.low_balance_message("Acme\r\nBcc: evil@x.com\x00\u2028x", payload, "https://h/")
    assert (
        subject == "Creative Hub: Acme Bcc: evil@x.com x credits are low ($8.00 available, threshold $9.00)"
    )
    assert "team Acme Bcc: evil@x.com x fell" in body


def test_the_email_lease_outlasts_the_longest_attempt() -> None:
    """One attempt is connect, STARTTLS, login and the send, each bounded by the SMTP timeout, and
    is cut at attempt_seconds; the lease (the time before the sweep may start another attempt)
    is longer, whatever CH_SMTP_TIMEOUT_SECONDS says."""
    from datetime import timedelta

    from services.settings import Settings
    from tasks import billing_email

    for timeout in (0.5, 30.0, 600.0, 3600.0):
        settings = Settings(env="development", smtp_timeout_seconds=timeout)
        attempt = billing_email.attempt_seconds(settings)
        assert attempt >= 4 * timeout
        assert billing_email.lease(settings) >= timedelta(seconds=attempt + 30)


@pytest.mark.usefixtures("database")
async def test_a_send_that_hangs_is_cut_at_the_attempt_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """An SMTP server that never finishes cannot hold an attempt past attempt_seconds (so past the
    lease): the attempt fails and is retried."""
    from types import SimpleNamespace

    import aiosmtplib

    from services.settings import Settings
    from tasks import billing_email

    async def hangs(*args: Any, **kwargs: Any) -> Any:
        await asyncio.Event().wait()

    monkeypatch.setattr(aiosmtplib, "send", hangs)
    enqueued: list[str] = []

    class Queue:
        async def enqueue_billing_email(self, email_id: str, delay: float) -> None:
            enqueued.append(email_id)

    team_id, owner, _ = await a_team(1_000)
    await billing.set_contacts(team_id, ["ops@example.com"])
    await credits.set_low_balance_threshold(team_id, 1_000)
    await submit(team_id, owner, 10)  # crosses
    (email,) = await billing.BillingEmail.filter(team_id=team_id)
    settings = Settings(env="development", smtp_host="127.0.0.1", smtp_timeout_seconds=0.05)
    services: Any = SimpleNamespace(settings=settings, queue=Queue())
    async with asyncio.timeout(10):
        outcome = await billing_email.deliver(services, str(email.id))
    assert outcome.startswith("retry in") and enqueued == [str(email.id)]
    await email.refresh_from_db()
    assert email.status == billing.EmailStatus.PENDING and "TimeoutError" in (email.last_error or "")


@pytest.mark.usefixtures("database")
async def test_a_cap_cleared_right_after_it_was_set_still_answers_its_status() -> None:
    """setSpendCap answers the cap it wrote, even if another admin cleared it just after."""
    team_id, owner, _ = await a_team()
    cap = await spend_caps.set_cap(
        team_id, user_id=str(owner), api_key_id=None, period=Period.DAY, limit_cents=500
    )
    assert cap is not None
    await submit(team_id, owner, 120)
    (listed,) = await spend_caps.team_caps(team_id)
    await spend_caps.set_cap(
        team_id, user_id=str(owner), api_key_id=None, period=Period.DAY, limit_cents=None
    )
    status = await spend_caps.cap_status(team_id, cap)
    assert status.cap.id == cap.id and status.cap.limit_cents == 500
    assert (status.subject_name, status.spent_cents, status.remaining_cents) == (
        listed.subject_name,
        120,
        380,
    )
    assert (status.period_start, status.period_end) == (listed.period_start, listed.period_end)
