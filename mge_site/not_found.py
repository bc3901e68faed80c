"""404s: the API answers in JSON, the pages with the site's page."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    # An API path that matches no route (an id that is not a UUID, a typo in the path)
    # never reaches DRF, whose 404s are JSON: a client must not get an HTML page.
    if request.path.startswith("/api/"):
        return JsonResponse(
            {
                "detail": f"No API endpoint at {request.path}: check the path and that ids "
                "are UUIDs (the API guide lists the endpoints: /api/v2/docs/).",
                "errors": {},
            },
            status=404,
        )
    return page_not_found(request, exception)
