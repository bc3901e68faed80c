"""Refuse a request whose body is over the limit before anything reads it.

Django keeps file uploads out of DATA_UPLOAD_MAX_MEMORY_SIZE (they stream to a temporary
file), so a 300 MB multipart upload would be received, stored and decoded before the
importer refused it; a JSON body over the limit got Django's bare "Bad Request (400)".
The declared Content-Length decides here (under WSGI a body without one is empty): the
API answers JSON 413 with the limit, the upload page the importer's own message. It runs
after the authentication middleware (the page shows who is logged in) and before any view
or CSRF check reads the body.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse


def _declared_length(request: HttpRequest) -> int:
    try:
        return max(int(request.META.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0


def _too_large(request: HttpRequest, size: int) -> HttpResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    document_limit = settings.MGE_MASTERPLAN_MAX_BYTES
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"detail": f"The request is {size:,} bytes; the limit is {limit:,} bytes (a "
                       f"masterplan document may be up to {document_limit:,} bytes).",
             "errors": {}, "limit_bytes": limit},
            status=413,
        )  # fmt: skip
    if request.path == reverse("execution:masterplan-upload") and request.user.is_authenticated:
        from execution.pages.forms import MasterPlanUploadForm

        problem = (f"the document is about {size:,} bytes; the limit is {document_limit:,} "
                   "bytes (1 MiB)")  # fmt: skip
        context = {"form": MasterPlanUploadForm(), "problems": [problem]}
        template = (
            "execution/_upload_form.html"
            if request.headers.get("HX-Request") == "true"
            else "execution/masterplan_upload.html"
        )
        return render(request, template, context, status=413)
    return HttpResponse(f"413: the request is {size:,} bytes; the limit is {limit:,} bytes.\n",
                        status=413, content_type="text/plain; charset=utf-8")  # fmt: skip


class RequestSizeLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        size = _declared_length(request)
        if size > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            return _too_large(request, size)
        return self.get_response(request)
