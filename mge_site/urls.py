from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from mge_site.health import healthz
from mge_site.metrics import metrics

urlpatterns = [
    path("", include("execution.pages.urls")),
    path("", include("budget.urls")),
    path("", include("acceptance.urls")),
    path("", include("tracing.pages.urls")),
    path("", include("caching.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v2/", include(("mge_site.api", "api"))),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="prometheus-django-metrics"),
]

handler404 = "mge_site.not_found.not_found"

admin.site.site_header = "MGE V2 control plane"
admin.site.site_title = "MGE V2 admin"
