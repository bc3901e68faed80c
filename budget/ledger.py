"""Writing the cost ledger (CostEntry): one row per LLM call, and the corrections of
rows that were estimates."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from budget.models import CostEntry
from execution.llm.types import LLMRequest, LLMResponse, Usage


def record_cost(
    request: LLMRequest,
    response: LLMResponse,
    cost: Decimal,
    reserved: Decimal,
    reservation_id: str,
    kind: str = CostEntry.Kind.SETTLED,
    *,
    saved: Decimal | None = None,
    requested_at: dt.datetime | None = None,
) -> None:
    """One ledger row: a single INSERT (the atom's own cost is added when it finishes,
    from `LLMResponse.cost_usd`, in the update the engine makes anyway). Written out as
    SQL: every LLM call makes one, and the ORM's save machinery cost three times the
    statement's CPU (benchmarks/README.md). `saved`: a cache hit, $0, and what the answer
    cost when it was paid."""
    # Only a plan's calls are metered: budget_guard passes the others on unrecorded.
    assert request.masterplan_id is not None
    usage = response.usage
    values = {
        "id": uuid.uuid4(), "masterplan": request.masterplan_id, "atom": request.atom_id,
        "wave": request.wave_id, "model": request.model, "purpose": request.purpose,
        "input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": usage.cache_creation_input_tokens,
        "cache_creation_1h_input_tokens": usage.cache_creation_1h_input_tokens,
        "cache_read_input_tokens": usage.cache_read_input_tokens, "cost_usd": cost,
        "reserved_usd": reserved, "batch": response.batched, "cache_hit": saved is not None,
        "saved_usd": saved or Decimal(0), "kind": kind,
        "reservation_id": reservation_id, "requested_at": requested_at,
        "created_at": timezone.now(),
    }  # fmt: skip
    by_name = {field.name: field for field in CostEntry._meta.concrete_fields}
    fields = [by_name[name] for name in values]
    # Concrete fields always have a column.
    columns = ", ".join(connection.ops.quote_name(field.column or "") for field in fields)
    params = [
        field.get_db_prep_save(value, connection)
        for field, value in zip(fields, values.values(), strict=True)
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {CostEntry._meta.db_table} ({columns}) "
            f"VALUES ({', '.join(['%s'] * len(params))})",
            params,
        )


def record_cache_hit(request: LLMRequest, saved: Decimal) -> None:
    """A call answered from the response cache: nothing billed (no tokens, $0) and what
    the answer cost when it was paid."""
    record_cost(request, LLMResponse(text="", model=request.model), Decimal(0), Decimal(0),
                f"cache-{uuid.uuid4().hex}", saved=saved)  # fmt: skip


def correct_estimate(
    reservation_id: str, usage: Usage, cost: Decimal, *, batch: bool = False
) -> Decimal | None:
    """An estimated entry gets the call's true usage and cost (a late answer of a worker
    thought dead or of a long Message Batch, or the provider's usage report); returns how
    much the cost changed, or None when no estimated entry has that reservation (it was
    settled for real)."""
    with transaction.atomic():
        entry = (
            CostEntry.objects.select_for_update()
            .filter(reservation_id=reservation_id, kind=CostEntry.Kind.ESTIMATED)
            .first()
        )
        if entry is None:
            return None
        change = cost - entry.cost_usd
        entry.input_tokens, entry.output_tokens = usage.input_tokens, usage.output_tokens
        entry.cache_creation_input_tokens = usage.cache_creation_input_tokens
        entry.cache_creation_1h_input_tokens = usage.cache_creation_1h_input_tokens
        entry.cache_read_input_tokens = usage.cache_read_input_tokens
        entry.cost_usd, entry.kind, entry.batch = cost, CostEntry.Kind.SETTLED, batch
        entry.save()
    return change
