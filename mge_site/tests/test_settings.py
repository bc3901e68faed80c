from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from mge_site.env import env_bool, env_choice, env_decimal, env_int, env_json_object


@pytest.mark.parametrize(
    ("reader", "value", "message"),
    [
        (lambda: env_bool("MGE_X", False), "maybe", "MGE_X='maybe' is not a boolean"),
        (lambda: env_int("MGE_X", 1), "ten", "MGE_X='ten' is not an integer"),
        (lambda: env_int("MGE_X", 1, minimum=1), "0", "MGE_X=0 must be at least 1"),
        (lambda: env_decimal("MGE_X", Decimal(1)), "abc", "MGE_X='abc' is not a decimal"),
        (lambda: env_decimal("MGE_X", Decimal(1)), "NaN", "must be a finite number"),
        (lambda: env_choice("MGE_X", "a", ("a", "b")), "c", "MGE_X='c' must be one of: a, b"),
        (lambda: env_json_object("MGE_X", {}), "[1]", "MGE_X must be a JSON object"),
        (lambda: env_json_object("MGE_X", {}), "{", "MGE_X is not valid JSON"),
    ],
)
def test_bad_values_name_the_variable(monkeypatch, reader, value, message):
    monkeypatch.setenv("MGE_X", value)
    with pytest.raises(ImproperlyConfigured, match=message.replace("(", r"\(").replace("[", r"\[")):
        reader()


def test_unset_and_empty_variables_take_the_default(monkeypatch):
    monkeypatch.setenv("MGE_X", "")
    assert env_int("MGE_X", 7) == 7
    monkeypatch.delenv("MGE_X")
    assert env_bool("MGE_X", True) is True


def start_django(**environment: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={
            **{key: value for key, value in os.environ.items() if key != "DJANGO_SECRET_KEY"},
            "DJANGO_SETTINGS_MODULE": "mge_site.settings",
            **environment,
        },
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("MGE_BUDGET_SOFT_CAP_RATIO", "abc", "MGE_BUDGET_SOFT_CAP_RATIO='abc' is not a decimal"),
        ("MGE_BUDGET_SOFT_CAP_RATIO", "1.5", "MGE_BUDGET_SOFT_CAP_RATIO=1.5 must be at most 1"),
        ("MGE_LLM_PROVIDER", "openai", "MGE_LLM_PROVIDER='openai' must be one of"),
        ("MGE_MODEL_BY_COMPLEXITY", '{"low": "x"}', "must map exactly low, medium and high"),
        ("REDIS_URL", "localhost:6379", "REDIS_URL='localhost:6379' must start with redis://"),
        ("DJANGO_ALLOWED_HOSTS", "mge.example.com", "DJANGO_SECRET_KEY must be set"),
        ("DJANGO_SECURE_PROXY_SSL_HEADER", "X-Forwarded-Proto", "must be 'HEADER,value'"),
        ("DJANGO_SECURE_HSTS_SECONDS", "-1", "DJANGO_SECURE_HSTS_SECONDS=-1 must be at least 0"),
    ],
)
def test_start_up_stops_on_a_bad_variable_naming_it(variable, value, message):
    started = start_django(**{variable: value})
    assert started.returncode != 0
    assert message in started.stderr


def test_provider_defaults_to_offline_without_an_api_key():
    environment = {key: value for key, value in os.environ.items() if key != "ANTHROPIC_API_KEY"}
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.MGE_LLM_PROVIDER)",
        ],  # fmt: skip
        env={**environment, "DJANGO_SETTINGS_MODULE": "mge_site.settings", "MGE_LLM_PROVIDER": ""},
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
    )
    assert probe.stdout.strip() == "offline", probe.stderr


def test_default_models_are_not_deprecated_by_the_sdk():
    # The SDK knows end-of-life dates; a default on that list breaks every run after it.
    from anthropic.resources.messages.messages import DEPRECATED_MODELS

    assert not set(settings.MGE_MODEL_BY_COMPLEXITY.values()) & set(DEPRECATED_MODELS)


PRODUCTION = {
    "DJANGO_DEBUG": "false",
    "DJANGO_ALLOWED_HOSTS": "mge.example.com",
    "DJANGO_SECRET_KEY": "k" * 20 + "-not-the-dev-key-" + "q8Zr1!x" * 6,
    "DJANGO_HTTPS": "true",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://mge.example.com",
    "MGE_METRICS_TOKEN": "metrics-token-of-the-scraper",
}


def test_a_public_host_needs_a_metrics_token():
    started = start_django(**{**PRODUCTION, "MGE_METRICS_TOKEN": ""})
    assert started.returncode != 0
    assert "MGE_METRICS_TOKEN must be set when DJANGO_ALLOWED_HOSTS names a non-local host" in (
        started.stderr
    )


def test_check_deploy_is_clean_with_the_production_variables():
    checked = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "mge_site.settings", **PRODUCTION},
        capture_output=True, text=True, cwd=settings.BASE_DIR,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "System check identified no issues" in checked.stdout
    # Without the switch the same check names what is missing.
    insecure = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "mge_site.settings", **PRODUCTION,
             "DJANGO_HTTPS": "false"},
        capture_output=True, text=True, cwd=settings.BASE_DIR,
    )  # fmt: skip
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in insecure.stderr + insecure.stdout


def test_the_https_switch_sets_the_safe_values_together():
    probe = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings "
         "as s; print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE, "
         "s.CSRF_COOKIE_SECURE, s.SECURE_PROXY_SSL_HEADER)"],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "mge_site.settings", **PRODUCTION,
             "DJANGO_SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https"},
        capture_output=True, text=True, cwd=settings.BASE_DIR,
    )  # fmt: skip
    assert probe.stdout.split() == [
        "True",
        "31536000",
        "True",
        "True",
        "('HTTP_X_FORWARDED_PROTO',",
        "'https')",
    ], probe.stderr
