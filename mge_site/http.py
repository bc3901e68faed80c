"""The request the pages are handed, typed as the middleware leaves it.

For annotations only: Django makes the requests, these classes just name what is on them.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    """A request past django-htmx's HtmxMiddleware: `request.htmx` says whether HTMX sent it
    and for which target."""

    htmx: HtmxDetails


class SignedInHtmxHttpRequest(HtmxHttpRequest):
    """The same, in a view behind `login_required`: the user is a real one, not anonymous."""

    user: User
