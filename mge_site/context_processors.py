from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict[str, str]:
    """What every page shows in its frame: which LLM provider runs the atoms."""
    return {"llm_provider": settings.MGE_LLM_PROVIDER}
