"""Fast budget counters in Redis: spent, reserved and caps per masterplan, in micro-dollars.

Reserving is one Lua script — check `spent + reserved + this ≤ hard cap` and reserve — so
two workers can never both pass a nearly-full budget: the check-then-charge race of
checking first and charging after the call cannot happen. The counters are a cache of the
ledger (CostEntry) and the caps (MasterPlan): missing keys are loaded from the database,
and `rebuild` recomputes them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import TYPE_CHECKING, NamedTuple, TypeAlias, TypeVar, cast

from redis import Redis

from mge_site.redis_connection import LuaScript, shared_redis

if TYPE_CHECKING:
    from execution.models import MasterPlan

MICROS = Decimal(1_000_000)
EXPIRIES = "mge:budget:reservation-expiries"

_RESERVE = LuaScript("""
-- KEYS: hard cap, spent, reserved, reservations, expiries, holders
-- ARGV: amount, reservation id, expires at, expiries member, holder (JSON)
-- Returns {1} reserved, {-2} not loaded, or {-1, spent, reserved, cap}: a refusal with
-- the figures it was decided on (read later, they may already say something else).
local cap = redis.call('GET', KEYS[1])
if not cap then return {-2} end
local spent = tonumber(redis.call('GET', KEYS[2]) or '0')
local reserved = tonumber(redis.call('GET', KEYS[3]) or '0')
local amount = tonumber(ARGV[1])
if spent + reserved + amount > tonumber(cap) then return {-1, spent, reserved, tonumber(cap)} end
redis.call('INCRBY', KEYS[3], amount)
redis.call('HSET', KEYS[4], ARGV[2], amount)
redis.call('ZADD', KEYS[5], ARGV[3], ARGV[4])
redis.call('HSET', KEYS[6], ARGV[2], ARGV[5])
return {1}
""")

_SETTLE = LuaScript("""
-- KEYS: spent, reserved, reservations, expiries, soft cap, holders
-- ARGV: reservation id, actual amount (-1: charge what was reserved), expiries member
local amount = redis.call('HGET', KEYS[3], ARGV[1])
if not amount then return {-1, 0, 0} end
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[6], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[3])
redis.call('DECRBY', KEYS[2], amount)
local charge = tonumber(ARGV[2])
if charge < 0 then charge = tonumber(amount) end
return {redis.call('INCRBY', KEYS[1], charge), charge, redis.call('GET', KEYS[5]) or '0'}
""")


def to_micros(amount: Decimal) -> int:
    """USD to whole micro-dollars, rounded up: a reservation must never fall short."""
    return int((amount * MICROS).to_integral_value(rounding=ROUND_CEILING))


def from_micros(micros: int | bytes | str | None) -> Decimal:
    return (Decimal(int(micros or 0)) / MICROS).quantize(Decimal("0.000001"))


MasterPlanId: TypeAlias = uuid.UUID | str
"""A masterplan's pk, or its text as it comes back from Redis or an RQ job's arguments."""

_Id = TypeVar("_Id", bound=MasterPlanId)


def _key(masterplan_id: MasterPlanId, name: str) -> str:
    return f"mge:budget:{masterplan_id}:{name}"


class Settlement(NamedTuple):
    spent_usd: Decimal
    charged_usd: Decimal
    soft_cap_usd: Decimal
    """Returned with the charge, so crossing the soft cap needs no second round trip."""


class Refusal(NamedTuple):
    """A reservation that did not fit, with the counters as the refusal saw them."""

    spent_usd: Decimal
    reserved_usd: Decimal
    hard_cap_usd: Decimal

    def fits_once_settled(self, amount: Decimal) -> bool:
        """Room for `amount` when the calls in flight settle, even at their worst case."""
        return self.spent_usd + amount <= self.hard_cap_usd


@dataclass(frozen=True)
class Snapshot:
    spent_usd: Decimal
    reserved_usd: Decimal
    hard_cap_usd: Decimal
    soft_cap_usd: Decimal


class BudgetCounters:
    def __init__(self, client: Redis | None = None) -> None:
        self.client = client or shared_redis()

    # --- loading ------------------------------------------------------------------------

    def load(
        self, masterplan_id: MasterPlanId, hard_cap: Decimal, soft_cap: Decimal, spent: Decimal
    ) -> None:
        """Set a plan's counters unless they exist (NX: a concurrent loader computed the same)."""
        pipe = self.client.pipeline()
        pipe.set(_key(masterplan_id, "spent"), to_micros(spent), nx=True)
        pipe.set(_key(masterplan_id, "reserved"), 0, nx=True)
        pipe.set(_key(masterplan_id, "soft_cap"), to_micros(soft_cap), nx=True)
        pipe.set(_key(masterplan_id, "hard_cap"), to_micros(hard_cap), nx=True)
        pipe.execute()

    def set_caps(self, masterplan_id: MasterPlanId, hard_cap: Decimal, soft_cap: Decimal) -> None:
        pipe = self.client.pipeline()
        pipe.set(_key(masterplan_id, "hard_cap"), to_micros(hard_cap))
        pipe.set(_key(masterplan_id, "soft_cap"), to_micros(soft_cap))
        pipe.execute()

    def rebuild(
        self, masterplan_id: MasterPlanId, hard_cap: Decimal, soft_cap: Decimal, spent: Decimal
    ) -> None:
        """Counters from the ledger; reserved from the reservations still open."""
        open_reservations = self.client.hvals(_key(masterplan_id, "reservations"))
        pipe = self.client.pipeline()
        pipe.set(_key(masterplan_id, "spent"), to_micros(spent))
        pipe.set(_key(masterplan_id, "reserved"), sum(int(v) for v in open_reservations))
        pipe.set(_key(masterplan_id, "hard_cap"), to_micros(hard_cap))
        pipe.set(_key(masterplan_id, "soft_cap"), to_micros(soft_cap))
        pipe.execute()

    def snapshot(self, masterplan_id: MasterPlanId) -> Snapshot | None:
        values = self.client.mget(
            [_key(masterplan_id, name) for name in ("spent", "reserved", "hard_cap", "soft_cap")]
        )
        if values[2] is None:
            return None
        spent, reserved, hard_cap, soft_cap = (from_micros(value) for value in values)
        return Snapshot(spent, reserved, hard_cap, soft_cap)

    def reserved(self, masterplan_ids: Sequence[_Id]) -> dict[_Id, Decimal]:
        """What each plan has reserved now, in one round trip (0 when not loaded)."""
        values = (
            self.client.mget([_key(pk, "reserved") for pk in masterplan_ids])
            if masterplan_ids
            else []
        )
        return {pk: from_micros(value) for pk, value in zip(masterplan_ids, values, strict=True)}

    # --- reserve / settle ------------------------------------------------------------------

    def reserve(
        self, masterplan_id: MasterPlanId, amount: Decimal, ttl_seconds: float, holder: str = "{}"
    ) -> str | Refusal:
        """A reservation id, or the Refusal when the amount does not fit under the hard cap.

        `holder` (JSON) describes the call — its atom, model and prompt — so that when its
        worker dies the reservation can be settled at an estimate (budget.abandoned).
        Raises LookupError when the plan's counters are not loaded.
        """
        reservation_id = uuid.uuid4().hex
        status, *figures = _RESERVE(
            self.client,
            keys=[
                _key(masterplan_id, "hard_cap"),
                _key(masterplan_id, "spent"),
                _key(masterplan_id, "reserved"),
                _key(masterplan_id, "reservations"),
                EXPIRIES,
                _key(masterplan_id, "holders"),
            ],
            args=[
                to_micros(amount),
                reservation_id,
                time.time() + ttl_seconds,
                f"{masterplan_id}:{reservation_id}",
                holder,
            ],
        )
        if status == -2:
            raise LookupError(f"budget counters of {masterplan_id} are not loaded")
        if status == -1:
            return Refusal(*(from_micros(figure) for figure in figures))
        return reservation_id

    def settle(
        self, masterplan_id: MasterPlanId, reservation_id: str, actual: Decimal | None
    ) -> Settlement | None:
        """Charge `actual` (None: the whole reservation) and release the rest.

        Returns the spend after it, the charge and the soft cap, or None when the
        reservation was already settled (it expired and was charged in full).
        """
        spent, charged, soft_cap = _SETTLE(
            self.client,
            keys=[
                _key(masterplan_id, "spent"),
                _key(masterplan_id, "reserved"),
                _key(masterplan_id, "reservations"),
                EXPIRIES,
                _key(masterplan_id, "soft_cap"),
                _key(masterplan_id, "holders"),
            ],
            args=[
                reservation_id,
                -1 if actual is None else to_micros(actual),
                f"{masterplan_id}:{reservation_id}",
            ],
        )
        if spent == -1:
            return None
        return Settlement(from_micros(spent), from_micros(charged), from_micros(soft_cap))

    def holders(self, masterplan_id: MasterPlanId) -> dict[str, str]:
        """The open reservations of a plan: reservation id → its holder (JSON)."""
        raw = cast(dict[bytes, bytes], self.client.hgetall(_key(masterplan_id, "holders")))
        return {key.decode(): value.decode() for key, value in raw.items()}

    def holder(self, masterplan_id: MasterPlanId, reservation_id: str) -> str | None:
        raw = cast(bytes | None, self.client.hget(_key(masterplan_id, "holders"), reservation_id))
        return None if raw is None else raw.decode()

    def add_spent(self, masterplan_id: MasterPlanId, amount: Decimal) -> None:
        """Correct the spend by `amount` (negative: an estimate was too high). Only for a
        plan whose counters are loaded: unloaded ones are read from the ledger anyway."""
        if self.client.exists(_key(masterplan_id, "hard_cap")):
            micros = to_micros(amount) if amount >= 0 else -to_micros(-amount)
            self.client.incrby(_key(masterplan_id, "spent"), micros)

    def expired(self, now: float | None = None, limit: int = 500) -> list[tuple[str, str]]:
        """(masterplan id, reservation id) of reservations past their expiry."""
        # Without withscores the members alone; bytes, as the client does not decode responses.
        members = cast(
            list[bytes],
            self.client.zrangebyscore(EXPIRIES, 0, now or time.time(), start=0, num=limit),
        )
        pairs = (member.decode().split(":", 1) for member in members)
        return [(masterplan_id, reservation_id) for masterplan_id, reservation_id in pairs]


def sync_caps(masterplan: MasterPlan) -> None:
    """New caps reach a plan's live counters, if loaded (unloaded counters read the caps
    from the database when first needed). Call after the change has committed."""
    counters = BudgetCounters()
    if counters.snapshot(masterplan.pk) is not None:
        counters.set_caps(
            masterplan.pk, masterplan.budget_hard_cap_usd, masterplan.budget_soft_cap_usd
        )
