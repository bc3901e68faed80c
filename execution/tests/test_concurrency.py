"""The shared concurrency limit: its rules, its slots, and its effect on real runs."""

from __future__ import annotations

import time

import pytest
from django.conf import settings

from conftest import engine_db
from execution.models import MasterPlan
from execution.runtime.concurrency import (
    Adjustment,
    ConcurrencyLimiter,
    adjust_limit,
    before_provider_request,
    next_limit,
    on_provider_status,
    percentile,
)
from execution.runtime.concurrency.stage import _held
from execution.runtime.lifecycle import start_masterplan

HEALTHY = {"llm_p95_ms": 800.0, "db_p95_ms": 5.0, "budget_remaining_pct": 90.0}
SEED_TARGETS = {"llm_p95_target_ms": 2000, "db_p95_target_ms": 100}


def rule(current=100, in_flight=80, **signals):
    return next_limit(
        current, minimum=10, maximum=200, in_flight=in_flight,
        **{**HEALTHY, **SEED_TARGETS, **signals},
    )  # fmt: skip


def test_a_healthy_busy_system_grows_five_percent():
    assert rule() == Adjustment(105, "healthy")


def test_small_limits_grow_by_at_least_one():
    assert rule(current=12, in_flight=12).limit == 13  # the seed's int(12 * 1.05) stays 12


def test_slow_llm_or_database_cuts_ten_percent():
    assert rule(llm_p95_ms=2500).limit == 90
    assert rule(db_p95_ms=150).limit == 90


def test_little_budget_left_halves_and_the_strongest_cut_wins():
    adjustment = rule(llm_p95_ms=2500, budget_remaining_pct=15)
    assert adjustment.limit == 50
    assert "budget remaining 15% < 20%" in adjustment.reason
    assert "LLM p95" in adjustment.reason


def test_limits_stay_within_their_bounds():
    assert rule(current=11, budget_remaining_pct=1).limit == 10
    assert rule(current=200, in_flight=200).limit == 200


def test_an_idle_system_does_not_drift_up():
    assert rule(current=100, in_flight=49).limit == 100
    assert rule(current=100, in_flight=50).limit == 105


def test_no_measurements_yet_count_as_healthy():
    adjustment = next_limit(
        100, minimum=10, maximum=200, in_flight=60, llm_p95_ms=None, db_p95_ms=None,
        budget_remaining_pct=None, **SEED_TARGETS,
    )  # fmt: skip
    assert adjustment.limit == 105


def test_healthy_growth_stops_one_below_where_the_provider_last_refused():
    assert rule(current=100, ceiling=103) == Adjustment(
        102, "the provider refused at 103 during the last period: held below it", "ceiling"
    )
    assert rule(current=102, ceiling=103).limit == 102  # at the plateau already
    assert rule(current=100, ceiling=120) == Adjustment(105, "healthy")  # far below it
    assert rule(current=100, ceiling=103, db_p95_ms=500.0).limit == 90  # cuts still cut


def test_the_latency_targets_are_settings(settings):
    assert rule(llm_p95_ms=20_000, llm_p95_target_ms=60_000).kind == "healthy"
    assert rule(db_p95_ms=150.0, db_p95_target_ms=200).kind == "healthy"
    limiter = ConcurrencyLimiter()
    slots = hold(limiter, 90)
    for slot in slots[:10]:
        limiter.release(slot, llm_ms=20_000)  # a model that writes whole files
    hold(limiter, 10)  # busy again: 90 in flight
    settings.MGE_CONCURRENCY_LLM_P95_MS = 60_000
    assert limiter.adjust().kind == "healthy"
    settings.MGE_CONCURRENCY_LLM_P95_MS = 2000  # the seed's target
    assert limiter.adjust() == Adjustment(94, "LLM p95 20000 ms > 2000 ms", "llm_latency")


def test_percentile():
    assert percentile(list(range(1, 101)), 0.95) == 95
    assert percentile([], 0.95) is None


def test_slots_stop_at_the_limit_and_come_back_on_release(settings):
    settings.MGE_CONCURRENCY_INITIAL = 3
    limiter = ConcurrencyLimiter()
    slots = [limiter.try_acquire() for _ in range(3)]
    assert all(slots) and limiter.try_acquire() is None
    assert slots[0] is not None
    limiter.release(slots[0], llm_ms=1200)
    assert limiter.try_acquire() is not None
    assert limiter.signals()["llm_p95_ms"] == 1200


def test_a_crashed_holders_slot_expires_by_itself(settings):
    settings.MGE_CONCURRENCY_INITIAL = 1
    settings.MGE_CONCURRENCY_LEASE_SECONDS = 0.05
    limiter = ConcurrencyLimiter()
    assert limiter.try_acquire() is not None  # never released: its worker "died"
    assert limiter.try_acquire() is None
    time.sleep(0.06)
    assert limiter.try_acquire() is not None


def hold(limiter: ConcurrencyLimiter, count: int) -> list[str]:
    slots = [limiter.try_acquire() for _ in range(count)]
    assert all(slots)
    return slots  # type: ignore[return-value]


def test_a_rate_limit_cuts_to_ninety_percent_of_what_was_in_flight_once_per_event():
    limiter = ConcurrencyLimiter()
    slots = hold(limiter, 30)
    sent = time.time()
    assert limiter.cut_for_rate_limit(429, sent) is True
    assert limiter.limit() == 27
    # The rest of the burst: requests sent before the cut, admitted under the old limit.
    # Their 429s are the same congestion event and do not cut again.
    for slot in slots[:10]:
        limiter.release(slot)
        assert limiter.cut_for_rate_limit(429, sent) is False
    assert limiter.limit() == 27
    # A request sent after the cut is refused too: the new limit is still too high.
    assert limiter.cut_for_rate_limit(429, time.time()) is True
    assert limiter.limit() == 18  # 90 % of the 20 still held
    log = limiter.stats()["adjustments"]
    assert [(e["from"], e["to"], e["kind"]) for e in log[:1]] == [(100, 18, "rate_limit")]
    assert limiter.adjustment_counts()["rate_limit"] == 1  # one burst in the log and count


def test_a_rate_limit_never_cuts_below_the_minimum_nor_raises_the_limit():
    limiter = ConcurrencyLimiter()
    assert limiter.cut_for_rate_limit(529) is True  # nothing in flight: down to the floor
    assert limiter.limit() == settings.MGE_CONCURRENCY_MIN
    assert limiter.cut_for_rate_limit(529) is False
    limiter.set_limit(12, "test")
    hold(limiter, 12)
    assert limiter.cut_for_rate_limit(429) is True and limiter.limit() == 10


def test_successes_at_high_use_probe_one_slot_per_limit_successes():
    limiter = ConcurrencyLimiter()
    limiter.set_limit(20, "test")
    slots = hold(limiter, 20)
    for slot in slots[:19]:
        limiter.release(slot, 150.0, succeeded=True)
        limiter.try_acquire()  # the next call takes its place: use stays high
    assert limiter.limit() == 20
    limiter.release(slots[19], 150.0, succeeded=True)
    assert limiter.limit() == 21
    assert limiter.stats()["adjustments"][0]["kind"] == "probe"


def test_after_a_429_probing_stops_below_that_limit_until_the_period_ends(settings):
    settings.MGE_CONCURRENCY_ADJUST_SECONDS = 1
    limiter = ConcurrencyLimiter()
    limiter.set_limit(20, "test")
    slots = hold(limiter, 20)
    assert limiter.cut_for_rate_limit(429) is True  # the provider refused at 20
    assert limiter.limit() == 18 and limiter.ceiling() == 20
    assert limiter.stats()["rate_limit_ceiling"] == 20

    def busy_successes(count: int) -> None:
        for _ in range(count):
            limiter.release(slots.pop(), 150.0, succeeded=True)
            slots.append(limiter.try_acquire())  # type: ignore[arg-type]

    def give_back_down_to(held: int) -> None:
        for slot in slots[held:]:
            limiter.release(slot)
        del slots[held:]

    give_back_down_to(18)
    busy_successes(100)  # enough successes for five slots of growth
    assert limiter.limit() == 19  # grew back to one below the ceiling, and stopped there
    assert limiter.cut_for_rate_limit(429) is True  # refused again, at 19: it lowers
    assert (limiter.limit(), limiter.ceiling()) == (16, 19)  # 90 % of the 18 held
    give_back_down_to(16)
    time.sleep(1.1)  # the period is over: the ceiling is forgotten
    assert limiter.ceiling() is None
    busy_successes(100)
    assert limiter.limit() > 19


def test_the_periodic_rule_reads_the_ceiling():
    limiter = ConcurrencyLimiter()
    limiter.set_limit(20, "test")
    hold(limiter, 20)
    limiter.cut_for_rate_limit(429)  # to 90 % of 20 in flight; the ceiling is 20
    assert limiter.adjust().limit == 19  # healthy: one slot, still below the ceiling
    assert limiter.adjust() == Adjustment(
        19, "the provider refused at 20 during the last period: held below it", "ceiling"
    )
    limiter.client.delete(limiter._key("ceiling"))
    assert limiter.adjust() == Adjustment(20, "healthy")


def test_the_hooks_judge_a_429_by_when_its_request_was_sent():
    limiter = ConcurrencyLimiter()
    slots = hold(limiter, 30)
    _held.guarded = True
    try:
        before_provider_request()  # this call takes its slot (the 31st) and sends
        limiter.cut_for_rate_limit(429)  # another call's 429 cuts: 90 % of 31 = 27
        for slot in slots[:10]:
            limiter.release(slot)  # 20 left: a new event would cut to 18
        on_provider_status(429)  # but this request was sent before that cut
        assert limiter.limit() == 27
        before_provider_request()  # the SDK's retry is sent after the cut…
        on_provider_status(429)  # …and is refused too: the limit is still too high
        assert limiter.limit() == 18  # 90 % of the 20 still held
    finally:
        _held.guarded, _held.slot = False, None


def test_a_limit_set_by_hand_clears_the_ceiling():
    limiter = ConcurrencyLimiter()
    hold(limiter, 30)
    limiter.cut_for_rate_limit(429)
    assert limiter.ceiling() == 100
    limiter.set_limit(50, "an operator knows better")
    assert limiter.ceiling() is None


def test_no_probing_when_idle_failed_held_down_or_at_the_maximum(settings):
    limiter = ConcurrencyLimiter()
    limiter.set_limit(20, "test")
    for _ in range(100):  # one call at a time: a tenth of the slots in use
        limiter.release(limiter.try_acquire(), succeeded=True)  # type: ignore[arg-type]
    assert limiter.limit() == 20
    slots = hold(limiter, 19)
    for _ in range(100):  # busy, but every call fails
        limiter.release(slots.pop(), succeeded=False)
        slots.append(limiter.try_acquire())  # type: ignore[arg-type]
    assert limiter.limit() == 20
    limiter.client.delete(limiter._key("holders"))
    limiter.client.set(limiter._key("hold"), 1)  # a periodic rule cut the limit
    for slot in hold(limiter, 20):
        limiter.release(slot, succeeded=True)
    assert limiter.limit() == 20
    limiter.client.delete(limiter._key("hold"))
    settings.MGE_CONCURRENCY_MAX = 20
    for slot in hold(limiter, 20):
        limiter.release(slot, succeeded=True)
    assert limiter.limit() == 20


def test_a_periodic_cut_holds_probing_off_until_the_next_adjustment():
    limiter = ConcurrencyLimiter()
    hold(limiter, 90)
    limiter.record_db_ms([500.0] * 10)
    assert limiter.adjust().kind == "db_latency"
    assert limiter.client.ttl(limiter._key("hold")) > 0


def test_the_chart_samples_the_limit_the_load_and_the_peak_between_samples():
    limiter = ConcurrencyLimiter()
    slots = hold(limiter, 7)
    for slot in slots[2:]:
        limiter.release(slot)
    first = limiter.record_sample()
    assert (first["limit"], first["in_flight"], first["peak"]) == (100, 2, 7)
    second = limiter.record_sample()
    assert second["peak"] == 2  # the peak starts again from each sample
    assert [point["peak"] for point in limiter.history()] == [7, 2]
    limiter.client.zadd(limiter._key("history"), {'{"t": 1}': time.time() - 7200})
    assert len(limiter.history()) == 2  # older than an hour: not on the chart


@pytest.mark.django_db
def test_the_periodic_adjustment_reads_the_budget_of_running_plans(imported):
    from budget.models import CostEntry

    masterplan = imported("slugkit")  # hard cap 5
    MasterPlan.objects.filter(pk=masterplan.pk).update(status=MasterPlan.Status.RUNNING)
    CostEntry.objects.create(masterplan=masterplan, model="gpt-4", cost_usd=4.5, reservation_id="r")
    assert adjust_limit() == {"limit": 50, "reason": "budget remaining 10% < 20%"}


@pytest.mark.django_db
def test_concurrency_stats_over_the_api(api_client_for, viewer):
    ConcurrencyLimiter().set_limit(120, "test")
    body = api_client_for(viewer).get("/api/v2/execution/concurrency-stats").json()
    assert body["current_limit"] == 120
    assert (body["min_limit"], body["max_limit"]) == (10, 200)
    assert body["active_executions"] == 0 and body["queue_depth"] == 0
    assert body["rate_limit_ceiling"] is None  # no refusal yet
    assert {"llm_p95_ms", "db_p95_ms", "budget_remaining_pct"} <= set(body)
    assert body["adjustments"][0]["reason"] == "test"


@engine_db
def test_two_worker_processes_never_hold_more_than_the_limit(
    imported, stub_server, settings, spawn_worker
):
    ConcurrencyLimiter().set_limit(4, "test")
    stub_server.configure(latency_ms=150)
    masterplan = imported("inventory-service")
    settings.MGE_WAVE_SHARD_SIZE = 2  # wave 1 (5 atoms) → 3 jobs for the 2 workers
    start_masterplan(masterplan.pk)
    workers = [spawn_worker(MGE_WAVE_SHARD_SIZE="2") for _ in range(2)]
    for worker in workers:
        worker.wait(timeout=120)
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.COMPLETED
    assert 1 < stub_server.stats.max_in_flight <= 4


@engine_db
def test_429s_from_the_provider_cut_the_limit_at_once(imported, stub_server, run_jobs, settings):
    settings.MGE_CONCURRENCY_MIN = 1
    stub_server.configure(latency_ms=100, capacity=2)  # beyond 2 at once: 429, retry-after 1
    masterplan = imported("inventory-service")
    start_masterplan(masterplan.pk)
    run_jobs()
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.COMPLETED  # the SDK retried them
    limiter = ConcurrencyLimiter()
    assert limiter.limit() <= 3  # settled around what the provider holds
    assert any(e["reason"] == "provider answered 429" for e in limiter.stats()["adjustments"])
    # The first burst is refused; the retries queue for slots under the lowered limit
    # instead of coming back all at once.
    refused = stub_server.stats.by_status[429]
    assert 0 < refused <= 6, stub_server.stats.as_json()
    assert limiter.in_flight() == 0  # every slot given back, the refused ones too


@pytest.mark.django_db
def test_prometheus_sees_the_limit_the_load_and_the_adjustments(client):
    limiter = ConcurrencyLimiter()
    limiter.set_limit(80, "test")
    hold(limiter, 50)
    limiter.cut_for_rate_limit(529)
    text = client.get("/metrics").content.decode()
    assert "v2_concurrency_limit 45.0" in text
    assert "v2_concurrency_in_flight 50.0" in text
    assert "v2_concurrency_queue_depth 0.0" in text
    assert 'v2_concurrency_adjustments_total{reason="rate_limit"} 1.0' in text
    assert 'v2_concurrency_adjustments_total{reason="manual"} 1.0' in text


def test_adjustments_are_labelled_by_their_strongest_cause():
    assert rule(llm_p95_ms=2500, budget_remaining_pct=15).kind == "budget"
    assert rule(db_p95_ms=500).kind == "db_latency"
    assert rule(in_flight=10).kind == "idle"


@pytest.mark.django_db
def test_a_saturated_limiter_refuses_new_starts_with_429_and_retry_after(
    api_client_for, reviewer, imported, settings
):
    settings.MGE_CONCURRENCY_QUEUE_MAX = 5
    masterplan = imported("slugkit")
    limiter = ConcurrencyLimiter()
    waiting = {f"waiter-{n}": time.time() + 30 for n in range(5)}
    limiter.client.zadd(limiter._key("waiting"), waiting)  # five calls wait for a slot
    response = api_client_for(reviewer).post(f"/api/v2/execution/masterplans/{masterplan.pk}/start")
    assert response.status_code == 429
    assert response["Retry-After"] == "30"
    assert "5 LLM calls are waiting for a slot (at most 5)" in response.json()["detail"]
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.READY  # nothing changed, nothing lost

    limiter.client.zrem(limiter._key("waiting"), "waiter-0")
    assert (
        api_client_for(reviewer)
        .post(f"/api/v2/execution/masterplans/{masterplan.pk}/start")
        .status_code
        == 202
    )


def test_waiting_callers_are_counted_as_the_queue_and_get_their_slot(settings):
    import threading

    settings.MGE_CONCURRENCY_INITIAL = 1
    limiter = ConcurrencyLimiter()
    held = limiter.acquire()
    got: list[str] = []
    waiter = threading.Thread(target=lambda: got.append(limiter.acquire()))
    waiter.start()
    deadline = time.monotonic() + 5
    while limiter.queue_depth() != 1:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    limiter.release(held)
    waiter.join(timeout=5)
    assert got and limiter.queue_depth() == 0


def test_only_the_first_waiter_of_a_process_polls_and_slots_go_first_come_first_served(
    settings, monkeypatch
):
    import threading

    settings.MGE_CONCURRENCY_INITIAL = 1
    limiter = ConcurrencyLimiter()
    held = limiter.acquire()
    polls: list[float] = []
    real_try_acquire = ConcurrencyLimiter.try_acquire

    def counted(self: ConcurrencyLimiter) -> str | None:
        polls.append(time.monotonic())
        return real_try_acquire(self)

    monkeypatch.setattr(ConcurrencyLimiter, "try_acquire", counted)
    order: list[int] = []

    def wait_then_pass_on(number: int) -> None:
        slot = limiter.acquire()
        order.append(number)
        limiter.release(slot)

    waiters = []
    for number in range(20):  # queued one after another: the order they came in
        waiters.append(threading.Thread(target=wait_then_pass_on, args=(number,)))
        waiters[-1].start()
        deadline = time.monotonic() + 5
        while limiter.queue_depth() != number + 1:
            assert time.monotonic() < deadline
            time.sleep(0.002)
    polls.clear()
    time.sleep(1)
    # One poller backing off to every 50 ms (jittered): ~20 polls in a second, where
    # twenty threads polling on their own made hundreds.
    assert 5 <= len(polls) <= 40
    limiter.release(held)
    for waiter in waiters:
        waiter.join(timeout=5)
    assert order == list(range(20))
    assert limiter.in_flight() == 0 and limiter.queue_depth() == 0


def test_a_slot_taken_ahead_is_used_by_the_first_call_and_given_back_after_it(settings):
    from execution.llm.types import Call, LLMRequest, LLMResponse
    from execution.runtime.concurrency import slot_held, slot_stage

    settings.MGE_CONCURRENCY_INITIAL = 1
    limiter = ConcurrencyLimiter()
    seen: list[int] = []

    def provider(call: Call) -> LLMResponse:
        seen.append(limiter.in_flight())
        return LLMResponse(text="ok", model=call.request.model)

    call = Call(LLMRequest(model="m", system="", messages=[], max_tokens=1))
    with slot_held():
        assert limiter.in_flight() == 1 and limiter.try_acquire() is None
        slot_stage(call, provider)  # would wait forever if it took a second slot
        assert limiter.in_flight() == 0  # given back when the call ended, not at the exit
        slot_stage(call, provider)  # a later call (a retry) takes its own
    with slot_held():
        pass  # no call took it over: the exit gives it back
    assert seen == [1, 1] and limiter.in_flight() == 0


def test_a_waiter_killed_mid_wait_stops_counting_as_queued_by_itself():
    limiter = ConcurrencyLimiter()
    # One waiter renewed just now, one whose process died a minute ago (never renewed).
    limiter.client.zadd(
        limiter._key("waiting"), {"alive": time.time() + 30, "killed": time.time() - 60}
    )
    assert limiter.queue_depth() == 1


def test_a_periodic_adjustment_never_overwrites_a_cut_made_meanwhile(monkeypatch):
    limiter = ConcurrencyLimiter()
    hold(limiter, 90)
    real_in_flight = limiter.in_flight

    def a_429_lands_while_the_signals_are_read() -> int:
        limiter.cut_for_rate_limit(429)  # 90 % of 90 in flight
        return real_in_flight()

    monkeypatch.setattr(limiter, "in_flight", a_429_lands_while_the_signals_are_read)
    adjustment = limiter.adjust()
    assert adjustment.kind == "skipped"
    assert limiter.limit() == 81  # the cut stands; the +5 % decided on 100 was dropped


@pytest.mark.django_db
def test_the_latency_signal_is_the_providers_time_not_the_retry_waits(stub_server):
    from execution.llm import gateway
    from execution.llm.types import LLMRequest

    stub_server.configure(latency_ms=100, fault_retry_after_ms=600)
    stub_server.configure(scheduled_statuses=[429])  # refused once, retried after 0.6 s
    request = LLMRequest(
        model="claude-haiku-4-5", system="", max_tokens=16,
        messages=[{"role": "user", "content": "Say hi."}],
    )  # fmt: skip
    started = time.monotonic()
    gateway.complete(request)
    assert time.monotonic() - started > 0.6
    [sample] = ConcurrencyLimiter().client.lrange(ConcurrencyLimiter()._key("llm_ms"), 0, -1)
    assert isinstance(sample, bytes)  # the client does not decode responses
    measured_at, _, ms = sample.decode().partition(":")
    assert abs(float(measured_at) - time.time()) < 5
    assert 90 <= float(ms) < 400  # the answered attempt, not the 0.6 s wait


@pytest.mark.django_db
def test_a_call_gives_its_slot_back_when_the_provider_answers_not_after_the_bookkeeping(
    stub_server, imported, monkeypatch
):
    from budget import guardrails
    from execution.llm import gateway
    from execution.llm.types import LLMRequest

    masterplan = imported("slugkit")
    limiter = ConcurrencyLimiter()
    in_flight_while_recording: list[int] = []
    real_record_cost = guardrails.record_cost

    def record_cost(*args, **kwargs):
        in_flight_while_recording.append(limiter.in_flight())
        return real_record_cost(*args, **kwargs)

    monkeypatch.setattr(guardrails, "record_cost", record_cost)
    request = LLMRequest(
        model="claude-haiku-4-5", system="", max_tokens=16,
        messages=[{"role": "user", "content": "Say hi."}], masterplan_id=str(masterplan.pk),
    )  # fmt: skip
    gateway.complete(request)
    assert in_flight_while_recording == [0]  # the provider was done: so was its slot
    assert limiter.client.llen(limiter._key("llm_ms")) == 1  # its latency counted once


def test_latency_samples_older_than_the_adjustment_period_cut_nothing(settings, monkeypatch):
    """Idle, the engine measures nothing: the last slow DB samples must not cut the limit
    period after period (it drifted from 100 to 22 overnight)."""
    limiter = ConcurrencyLimiter()
    hold(limiter, 90)
    limiter.record_db_ms([500.0] * 10)
    assert limiter.signals()["db_p95_ms"] == 500.0
    later = time.time() + settings.MGE_CONCURRENCY_ADJUST_SECONDS + 1
    monkeypatch.setattr(time, "time", lambda: later)
    assert limiter.signals() == {"llm_p95_ms": None, "db_p95_ms": None, "db_wait_p95_ms": None}
    assert limiter.adjust().kind != "db_latency"
    assert limiter.limit() >= 100
