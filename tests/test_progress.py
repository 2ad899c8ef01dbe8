"""Progress and expectations: the rules (models/progress.py) in-process, the adapters reading the
providers' own progress figures from the simulator, and what a subscriber sees through the stack —
progress rising to 1.0 at COMPLETED, and a job waiting behind a provider's concurrency limit
told its place in the line."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from models import progress as rules
from providers.base import Done, JobSpec, progress_fraction
from providers.bfl import BflAdapter
from providers.catalog import CATALOG
from providers.heygen import HeygenAdapter
from providers.http_adapter import HttpAdapter
from providers.luma import LumaAdapter
from providers.runway import RunwayAdapter
from tests.sim_harness import job, make_adapter, serve_simulator, unique
from tests.stack import Stack, Team
from tests.test_generation import CANCEL, submit_ok

API_KEY = "sim-test-key"
TIME_SCALE = 0.02
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

# -- the rules, in-process --------------------------------------------------------------------


def test_in_development_a_simulated_provider_is_expected_to_take_the_simulators_time() -> None:
    """`make run` answers every provider without a key from the simulator, which finishes a Veo
    video in seconds: a job there is expected then ("Ready in 9 s"), not in the real Veo's minutes.
    A provider with its key keeps its real typical time; production expects nothing simulated."""
    from providers.registry import simulated_typical_seconds
    from services.settings import Settings

    dev = Settings(env="development", provider_env={"RUNWAY_API_KEY": "key_real"})
    times = simulated_typical_seconds(dev, time_scale=1.0)
    assert times["veo_3_1"] == 9.0 and times["flux_2_pro"] == 2.0 and times["gpt_image_1_5"] == 1.0
    assert "runway_gen4" not in times  # configured: the real Runway
    assert simulated_typical_seconds(dev, time_scale=0.5)["veo_3_1"] == 4.5
    assert simulated_typical_seconds(Settings(env="production"), time_scale=1.0) == {}
    try:
        rules.use_simulated_times(times)
        assert rules.typical_seconds("veo_3_1") == 9.0
        assert rules.typical_seconds("runway_gen4") == CATALOG["runway_gen4"].typical_seconds
        rules.use_simulated_times({"veo_3_1": 0.0})  # time_scale 0: at once, still a second ahead
        assert rules.typical_seconds("veo_3_1") == rules.MIN_SIMULATED_SECONDS
    finally:
        rules.use_simulated_times({})
    assert rules.typical_seconds("veo_3_1") == CATALOG["veo_3_1"].typical_seconds


def test_every_provider_has_a_typical_time_within_the_guides_range() -> None:
    # The product guide's ranges per job type (docs/providers.md, Typical generation times).
    ranges = {
        "image": (5, 60),
        "video": (60, 300),
        "avatar": (120, 600),
        "tts": (5, 30),
        "composite": (30, 300),
    }
    for spec in CATALOG.values():
        low, high = ranges[spec.type]
        assert low <= spec.typical_seconds <= high, spec.provider
    assert rules.typical_seconds("runway_gen4") == CATALOG["runway_gen4"].typical_seconds


def test_estimated_progress_rises_and_never_reaches_one() -> None:
    typical = 100.0
    values = [rules.estimated_progress(t, typical) for t in (0, 10, 50, 100, 150, 300, 10_000)]
    assert values[0] == 0.0
    assert values == sorted(values) and len(set(values)) == len(values)
    assert values[2] == pytest.approx(0.45) and values[3] == pytest.approx(rules.ESTIMATE_AT_TYPICAL)
    assert values[-1] < 1.0 and values[-1] <= rules.OPEN_CEILING


def test_next_progress_prefers_the_providers_figure_and_never_goes_back() -> None:
    assert rules.next_progress(None, 0.3, elapsed=1, typical=100) == 0.3
    assert rules.next_progress(0.3, None, elapsed=50, typical=100) == pytest.approx(0.45)
    assert rules.next_progress(0.6, 0.2, elapsed=10, typical=100) == 0.6  # a provider going back is ignored
    assert rules.next_progress(0.5, 1.0, elapsed=10, typical=100) == rules.OPEN_CEILING  # 1.0 is COMPLETED's


def test_only_meaningful_moves_are_published() -> None:
    assert rules.worth_publishing(None, 0.0, None)  # the first figure
    assert rules.worth_publishing(0.10, 0.15, 1.0)  # 5 points
    assert not rules.worth_publishing(0.10, 0.14, 1.0)  # 4 points, just now
    assert rules.worth_publishing(0.10, 0.11, rules.QUIET_SECONDS)  # a small move after a quiet spell
    assert not rules.worth_publishing(0.10, 0.10, 3600.0)  # no move, however long


def test_expected_completion_of_a_processing_job() -> None:
    started = NOW - timedelta(seconds=30)
    # No figure from the provider: its start plus the typical time.
    assert rules.expected_completion(NOW, started, 90) == started + timedelta(seconds=90)
    # The provider's rate: 25 % in 30 s leaves 90 s.
    assert rules.expected_completion(NOW, started, 90, reported=0.25) == NOW + timedelta(seconds=90)
    # Running late: a tenth of the typical time from now, never in the past.
    late = NOW - timedelta(seconds=500)
    assert rules.expected_completion(NOW, late, 90) == NOW + timedelta(seconds=9)
    # A figure too small to extrapolate from is ignored.
    assert rules.expected_completion(NOW, started, 90, reported=0.01) == started + timedelta(seconds=90)


def test_expected_completion_of_a_job_waiting_for_a_slot() -> None:
    # Two slots, typical 100 s: places 1 and 2 start in the next turn, 3 and 4 in the one after.
    assert rules.expected_completion_waiting(NOW, 1, 2, 100) == NOW + timedelta(seconds=200)
    assert rules.expected_completion_waiting(NOW, 2, 2, 100) == NOW + timedelta(seconds=200)
    assert rules.expected_completion_waiting(NOW, 3, 2, 100) == NOW + timedelta(seconds=300)
    assert rules.expected_completion_waiting(NOW, 5, 1, 100) == NOW + timedelta(seconds=600)


@pytest.mark.parametrize(
    ("raw", "fraction"),
    [
        (0, 0.0),
        (0.42, 0.42),
        # 1 is the whole task, never 1 %: Runway and BFL both report a fraction 0–1 (docs/providers.md)
        (1, 1.0),
        (1.0, 1.0),
        # A figure past 1 is outside the documented range, not a percentage: no figure, so a
        # BFL task reporting "1" then "2" does not read as 100 % then 2 %.
        (1.5, None),
        (42, None),
        (100, None),
        (None, None),
        ("0.5", None),
        (-0.1, None),
        (101, None),
        (float("nan"), None),
        (True, None),
    ],
)
def test_a_providers_progress_figure_as_a_fraction(raw: Any, fraction: float | None) -> None:
    assert progress_fraction(raw) == fraction


# -- the adapters against the simulator -------------------------------------------------------


@pytest.fixture(scope="module")
def sim_root() -> Iterator[str]:
    with serve_simulator(API_KEY, TIME_SCALE) as root:
        yield root


async def _figures(adapter: HttpAdapter, spec: JobSpec, limit: float = 20.0) -> list[float | None]:
    """Every progress figure the adapter reads while polling like the worker, until Done."""
    first = await adapter.submit(spec)
    assert not isinstance(first, Done)
    figures: list[float | None] = []
    async with asyncio.timeout(limit):
        wait = first.retry_after
        while True:
            await asyncio.sleep(wait)
            outcome = await adapter.poll(spec, first.task_id, first.state)
            if isinstance(outcome, Done):
                return figures
            figures.append(outcome.progress)
            wait = outcome.retry_after


@pytest.mark.parametrize(
    ("cls", "spec"),
    [
        (
            RunwayAdapter,
            lambda: job("video", "runway_gen4", unique("slow waves [sim:slow]"), duration_seconds=2),
        ),
        (
            BflAdapter,
            lambda: job("image", "flux_2_pro", unique("a slow lamp [sim:slow]"), aspect_ratio="1:1"),
        ),
    ],
)
async def test_runway_and_bfl_report_rising_progress(
    sim_root: str, client: httpx.AsyncClient, cls: type[HttpAdapter], spec: Any
) -> None:
    figures = await _figures(make_adapter(cls, sim_root, client, API_KEY), spec())
    numbers = [f for f in figures if f is not None]
    assert len(set(numbers)) >= 2, figures
    assert numbers == sorted(numbers) and all(0.0 <= f <= 1.0 for f in numbers)


async def test_providers_without_a_progress_figure_report_none(
    sim_root: str, client: httpx.AsyncClient
) -> None:
    # Luma's generation and HeyGen's v3 video carry no progress: the worker estimates it from the
    # typical time (docs/providers.md, Typical generation times and progress).
    luma = make_adapter(LumaAdapter, sim_root, client, API_KEY)
    figures = await _figures(
        luma, job("video", "luma_ray3", unique("a slow pan [sim:slow]"), duration_seconds=5)
    )
    heygen = make_adapter(HeygenAdapter, sim_root, client, API_KEY)
    script = unique("Hello from the studio [sim:slow]")
    figures += await _figures(heygen, job("avatar", "heygen", script, avatar_id="a", voice_id="v"))
    assert figures and set(figures) == {None}


# -- through the stack: what a subscriber sees ------------------------------------------------

JOB_PROGRESS = (
    "subscription ($id: ID!) { jobUpdated(id: $id) "
    "{ id status version progress queuePosition expectedCompletionAt } }"
)


async def _follow(stack: Stack, team: Team, job_id: str, wait_seconds: float = 60.0) -> list[dict[str, Any]]:
    states: list[dict[str, Any]] = []
    async with stack.subscription(team, JOB_PROGRESS, {"id": job_id}) as queue, asyncio.timeout(wait_seconds):
        while (payload := await queue.get()) is not None:
            assert "errors" not in payload, payload
            states.append(payload["data"]["jobUpdated"])
    return states


async def test_a_subscriber_sees_progress_rise_then_completed_at_one(stack: Stack, team: Team) -> None:
    job_ = await submit_ok(
        stack, team, "video", {"prompt": "a slow dolly shot [sim:slow]", "durationSeconds": 5}
    )
    states = await _follow(stack, team, job_["id"])
    final = states[-1]
    assert final["status"] == "COMPLETED" and final["progress"] == 1.0, states
    assert final["expectedCompletionAt"] is None and final["queuePosition"] is None
    running = [s for s in states if s["status"] == "PROCESSING"]
    figures = [s["progress"] for s in running]
    assert len({f for f in figures if 0 < f < 1}) >= 3, states  # Runway's figure, pushed as it rose
    assert figures == sorted(figures) and all(f < 1.0 for f in figures)
    assert all(s["expectedCompletionAt"] is not None for s in running)
    versions = [s["version"] for s in states]
    assert versions == sorted(set(versions))  # every push is a new version
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        rest = (await http.get(f"/api/v1/creative-hub/jobs/{job_['id']}", headers=team.headers)).json()
    assert (rest["progress"], rest["queue_position"], rest["expected_completion_at"]) == (1.0, None, None)


async def test_a_job_behind_the_providers_concurrency_limit_sees_its_place(stack: Stack, team: Team) -> None:
    # The test stacks cap Luma at 2 (CH_PROVIDER_CONCURRENCY): of four jobs, two wait their turn.
    jobs = [
        await submit_ok(
            stack,
            team,
            "video",
            {"prompt": f"slow scene {i} [sim:slow]", "provider": "LUMA_RAY3", "durationSeconds": 5},
        )
        for i in range(4)
    ]
    histories = await asyncio.gather(*[_follow(stack, team, j["id"]) for j in jobs])
    assert [h[-1]["status"] for h in histories] == ["COMPLETED"] * 4
    waited = [h for h in histories if any(s["queuePosition"] is not None for s in h)]
    assert len(waited) >= 2, histories
    places = {s["queuePosition"] for h in waited for s in h if s["queuePosition"] is not None}
    assert places <= {1, 2} and 1 in places, histories
    for history in waited:
        in_line = [s for s in history if s["queuePosition"] is not None]
        assert all(s["status"] == "PENDING" and s["expectedCompletionAt"] for s in in_line)
        started = [s for s in history if s["status"] == "PROCESSING"]
        assert started and all(s["queuePosition"] is None for s in started)  # out of the line once it runs


JOB_QUERY = "query ($id: ID!) { job(id: $id) { id status queuePosition } }"


async def _first_place(stack: Stack, team: Team, job_id: str, wait_seconds: float = 30.0) -> int | None:
    """The first queuePosition pushed for the job, or None when it started without waiting."""
    async with stack.subscription(team, JOB_PROGRESS, {"id": job_id}) as queue, asyncio.timeout(wait_seconds):
        while (payload := await queue.get()) is not None:
            assert "errors" not in payload, payload
            state = payload["data"]["jobUpdated"]
            if state["queuePosition"] is not None:
                return int(state["queuePosition"])
            if state["status"] != "PENDING":
                return None
    return None


async def test_another_teams_jobs_in_line_do_not_change_a_teams_queue_position(
    stack: Stack, team: Team
) -> None:
    # Luma is capped at 2 in the test stacks: two of team B's four slow jobs run, two wait; then
    # team A's jobs join the same line behind them. A's place counts A's own jobs only: 1 then 2,
    # not 3 then 4 (which would tell A how much B is generating).
    other = stack.create_team(5_000)
    slow = {"provider": "LUMA_RAY3", "durationSeconds": 5}
    submitted: list[tuple[Team, dict[str, Any]]] = []
    try:
        for i in range(4):
            prompt = unique(f"their slow scene {i} [sim:slow]")
            submitted.append((other, await submit_ok(stack, other, "video", {**slow, "prompt": prompt})))
        theirs = [job_ for _, job_ in submitted]
        places = await asyncio.gather(*[_first_place(stack, other, j["id"]) for j in theirs])
        assert sorted(p for p in places if p is not None) == [1, 2], places
        for i in range(2):
            prompt = unique(f"my slow scene {i} [sim:slow]")
            mine = await submit_ok(stack, team, "video", {**slow, "prompt": prompt})
            submitted.append((team, mine))
            assert await _first_place(stack, team, mine["id"]) == i + 1
        waiting = [j for j, p in zip(theirs, places, strict=True) if p is not None]
        still = [(await stack.data(other, JOB_QUERY, {"id": j["id"]}))["job"] for j in waiting]
        assert [s["status"] for s in still] == ["PENDING", "PENDING"], still  # B was ahead all along
    finally:  # free the provider's slots for the tests that follow
        for owner, job_ in submitted:
            await stack.gql(owner, CANCEL, {"id": job_["id"]})
