"""What a reservation keeps about its call, so that when its worker dies the call can
still be priced: which atom, which model, the prompt (its input tokens are counted then),
the output limit and the worst case reserved."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from decimal import Decimal

from execution.llm.types import LLMRequest


@dataclass(frozen=True)
class Holder:
    model: str
    max_tokens: int
    worst_usd: Decimal
    requested_at: float
    """Epoch seconds when the reservation was taken (the call went out just after)."""
    system: str = ""
    shared_context: str = ""
    messages: tuple[dict[str, str], ...] = ()
    purpose: str = "atom"
    atom_id: str | None = None
    wave_id: str | None = None

    @classmethod
    def of(cls, request: LLMRequest, worst: Decimal) -> Holder:
        return cls(
            model=request.model, max_tokens=request.max_tokens, worst_usd=worst,
            requested_at=time.time(), system=request.system,
            shared_context=request.shared_context, messages=tuple(request.messages),
            purpose=request.purpose, atom_id=request.atom_id, wave_id=request.wave_id,
        )  # fmt: skip

    def to_json(self) -> str:
        data = asdict(self)
        data["worst_usd"] = str(self.worst_usd)
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> Holder | None:
        """None for a reservation that kept nothing (taken before holders were kept)."""
        try:
            data = json.loads(text)
            return cls(
                **{**data, "worst_usd": Decimal(data["worst_usd"]),
                   "messages": tuple(data.get("messages", ()))}
            )  # fmt: skip
        except (ValueError, TypeError, KeyError):
            return None

    def request(self, masterplan_id: str) -> LLMRequest:
        return LLMRequest(
            model=self.model, system=self.system, shared_context=self.shared_context,
            messages=list(self.messages),
            max_tokens=self.max_tokens, purpose=self.purpose, masterplan_id=masterplan_id,
            atom_id=self.atom_id, wave_id=self.wave_id,
        )  # fmt: skip
