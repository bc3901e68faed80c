"""Estimated ledger entries take the provider's own figures, from the Admin API's usage
report (`GET /v1/organizations/usage_report/messages`): `mge budget reconcile`.

The report counts tokens per model and time bucket, not per request, and counts every
call of the organisation. So the correction needs the id of the one API key this
deployment calls with (MGE_USAGE_REPORT_API_KEY_ID) and that key used by nothing else:
then, within an hour and a model, the reported tokens minus those of the ledger's settled
entries are the estimated calls' own, and they are shared among them in proportion to
their estimates (kind `reconciled`: their sum is the provider's; each row's part of it is
apportioned). The report lags the calls by a few minutes: an hour whose report shows
nothing beyond the settled calls is left for a later run.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

import anthropic
from django.conf import settings
from django.db import transaction
from django.db.models import Sum

from budget.counters import BudgetCounters
from budget.models import CostEntry
from budget.pricing import cost_of
from execution.llm.anthropic_provider import message_of
from execution.llm.types import Usage

HOUR = dt.timedelta(hours=1)
_TOKEN_FIELDS = [field.name for field in fields(Usage)]
_METERED = (CostEntry.Kind.SETTLED, CostEntry.Kind.RECONCILED)


class ReconcileUnavailable(Exception):
    """What is missing to read the report (the CLI prints it and exits 2)."""


@dataclass(frozen=True)
class Correction:
    hour: dt.datetime
    model: str
    entries: int
    estimated_usd: Decimal
    reported_usd: Decimal


def reconcile(since: dt.datetime, *, dry_run: bool = False) -> list[Correction]:
    """Correct the estimated entries of calls sent since `since`; returns what changed."""
    if not settings.ANTHROPIC_ADMIN_API_KEY:
        raise ReconcileUnavailable(
            "ANTHROPIC_ADMIN_API_KEY is not set: the usage report is read with an Admin API "
            "key (sk-ant-admin…, Console → Settings → Admin keys); estimated entries stay "
            "estimated"
        )
    if not settings.MGE_USAGE_REPORT_API_KEY_ID:
        raise ReconcileUnavailable(
            "MGE_USAGE_REPORT_API_KEY_ID is not set: the report counts every call of the "
            "organisation, so it is read for the one API key this deployment uses "
            "(its id, apikey_…, from Console → API keys)"
        )
    by_bucket: dict[tuple[dt.datetime, str], list[CostEntry]] = defaultdict(list)
    for entry in CostEntry.objects.filter(
        kind=CostEntry.Kind.ESTIMATED, requested_at__gte=since
    ).order_by("requested_at"):
        assert entry.requested_at is not None  # filtered on it
        by_bucket[(_hour_of(entry.requested_at), entry.model)].append(entry)
    if not by_bucket:
        return []
    hours = sorted({hour for hour, _ in by_bucket})
    reported = _report(hours[0], hours[-1] + HOUR)
    corrections = []
    for (hour, model), entries in sorted(by_bucket.items(), key=lambda item: item[0]):
        provider = reported.get((hour, model))
        if provider is None:
            continue
        remainder = _minus(provider, _settled_usage(hour, model))
        if not any(getattr(remainder, name) for name in _TOKEN_FIELDS):
            continue
        correction = _apportion(hour, model, entries, remainder, dry_run)
        corrections.append(correction)
    return corrections


def _hour_of(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def _report(
    starting_at: dt.datetime, ending_at: dt.datetime
) -> dict[tuple[dt.datetime, str], Usage]:
    """The report's tokens per (hour, model), every page of it."""
    client = anthropic.Anthropic(
        api_key=settings.ANTHROPIC_ADMIN_API_KEY,
        base_url=settings.ANTHROPIC_BASE_URL,
        timeout=30,
    )
    params: dict[str, Any] = {
        "starting_at": starting_at.isoformat().replace("+00:00", "Z"),
        "ending_at": ending_at.isoformat().replace("+00:00", "Z"),
        "bucket_width": "1h",
        "group_by": ["model"],  # the SDK sends a list as group_by[]=…
        "api_key_ids": [settings.MGE_USAGE_REPORT_API_KEY_ID],
    }
    usage: dict[tuple[dt.datetime, str], Usage] = {}
    for bucket in _pages(client, params):
        hour = _hour_of(dt.datetime.fromisoformat(bucket["starting_at"].replace("Z", "+00:00")))
        for result in bucket.get("results", []):
            cache = result.get("cache_creation") or {}
            one_hour = int(cache.get("ephemeral_1h_input_tokens", 0))
            usage[(hour, result["model"])] = Usage(
                input_tokens=int(result.get("uncached_input_tokens", 0)),
                output_tokens=int(result.get("output_tokens", 0)),
                cache_creation_input_tokens=int(cache.get("ephemeral_5m_input_tokens", 0))
                + one_hour,
                cache_read_input_tokens=int(result.get("cache_read_input_tokens", 0)),
                cache_creation_1h_input_tokens=one_hour,
            )
    return usage


def _pages(client: anthropic.Anthropic, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    while True:
        try:
            page: Any = client.get(
                "/v1/organizations/usage_report/messages", cast_to=object,
                options={"params": params},
            )  # fmt: skip
        except anthropic.APIStatusError as error:
            raise ReconcileUnavailable(
                f"the usage report answered {error.status_code}: {message_of(error)}"
            ) from None
        except anthropic.APIConnectionError as error:
            raise ReconcileUnavailable(f"could not reach the usage report: {error}") from None
        yield from page.get("data", [])
        if not page.get("has_more"):
            return
        params = {**params, "page": page["next_page"]}


def _settled_usage(hour: dt.datetime, model: str) -> Usage:
    """The tokens the ledger knows for real in that hour and model (cache hits cost none)."""
    totals = CostEntry.objects.filter(
        kind__in=_METERED, cache_hit=False, model=model,
        created_at__gte=hour, created_at__lt=hour + HOUR,
    ).aggregate(**{name: Sum(name) for name in _TOKEN_FIELDS})  # fmt: skip
    return Usage(**{name: int(totals[name] or 0) for name in _TOKEN_FIELDS})


def _minus(reported: Usage, known: Usage) -> Usage:
    return Usage(**{
        name: max(0, getattr(reported, name) - getattr(known, name)) for name in _TOKEN_FIELDS
    })  # fmt: skip


def _apportion(
    hour: dt.datetime, model: str, entries: Sequence[CostEntry], remainder: Usage, dry_run: bool
) -> Correction:
    weights = [max(1, entry.input_tokens + entry.output_tokens) for entry in entries]
    shares = {name: _split(getattr(remainder, name), weights) for name in _TOKEN_FIELDS}
    estimated = sum((entry.cost_usd for entry in entries), Decimal(0))
    reported = Decimal(0)
    counters = BudgetCounters()
    changes: dict[Any, Decimal] = defaultdict(Decimal)
    with transaction.atomic():
        for index, entry in enumerate(entries):
            usage = Usage(**{name: shares[name][index] for name in _TOKEN_FIELDS})
            cost = cost_of(model, usage)
            reported += cost
            if dry_run:
                continue
            change = cost - entry.cost_usd
            for name in _TOKEN_FIELDS:
                setattr(entry, name, getattr(usage, name))
            entry.cost_usd, entry.kind = cost, CostEntry.Kind.RECONCILED
            entry.save()
            changes[entry.masterplan_id] += change
        # The live counters follow once the ledger has committed.
        transaction.on_commit(lambda: _add_spent(counters, changes))
    return Correction(hour, model, len(entries), estimated, reported)


def _add_spent(counters: BudgetCounters, changes: dict[Any, Decimal]) -> None:
    for masterplan_id, change in changes.items():
        counters.add_spent(masterplan_id, change)


def _split(total: int, weights: Sequence[int]) -> list[int]:
    """`total` in whole tokens, in proportion to `weights`; the parts add up to it."""
    whole = sum(weights)
    parts = [total * weight // whole for weight in weights]
    parts[-1] += total - sum(parts)
    return parts
