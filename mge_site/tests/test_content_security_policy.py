"""The Content-Security-Policy header on every page, and pages that need nothing it forbids."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)


def test_every_page_sends_the_policy_and_has_no_inline_script(admin_client, imported):
    masterplan = imported("slugkit")
    pages = [
        reverse("execution:masterplan-list"),
        reverse("execution:masterplan-detail", args=[masterplan.pk]),
        reverse("execution:masterplan-upload"),
        reverse("execution:concurrency-dashboard"),
        reverse("acceptance:masterplan-acceptance", args=[masterplan.pk]),
        reverse("budget:masterplan-budget", args=[masterplan.pk]),
        reverse("login"),
        reverse("admin:index"),
        reverse("api:docs"),
    ]
    for url in pages:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        policy = response["Content-Security-Policy"]
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
        assert directives["script-src"] == "'self'", url
        assert "unsafe-eval" not in policy and directives["frame-ancestors"] == "'none'"
        html = response.content.decode()
        assert not INLINE_SCRIPT.search(html), (url, INLINE_SCRIPT.search(html))
        if not url.startswith("/admin/"):
            assert not INLINE_HANDLER.search(html), url


def test_the_api_and_the_metrics_send_it_too(client, viewer, api_client_for):
    assert "Content-Security-Policy" in api_client_for(viewer).get("/api/v2/masterplans/")
    assert "Content-Security-Policy" in client.get("/healthz")
