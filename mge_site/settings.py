"""Settings of the MGE V2 control plane, configured by the environment.

Every variable is listed with its default in `.env.example` and the README; a bad
value stops start-up with a message naming the variable (see `mge_site.env`).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from mge_site.env import (
    env_bool,
    env_choice,
    env_decimal,
    env_int,
    env_json_list,
    env_json_object,
    env_list,
    env_optional_str,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

# --- Django basics ---------------------------------------------------------------

DEV_SECRET_KEY = "dev-only-insecure-key-never-use-in-production"
SECRET_KEY = env_str("DJANGO_SECRET_KEY", DEV_SECRET_KEY)
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])

_LOCAL_HOSTS = {"localhost", "127.0.0.1", "[::1]", "::1", "testserver"}
if SECRET_KEY == DEV_SECRET_KEY and not set(ALLOWED_HOSTS) <= _LOCAL_HOSTS:
    # Serving a non-local host means production: the published dev key would let anyone
    # forge sessions and password-reset tokens.
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY must be set when DJANGO_ALLOWED_HOSTS names a non-local host."
    )

# /metrics: a scrape must send "Authorization: Bearer <MGE_METRICS_TOKEN>"; without a
# token only loopback callers are answered (and a non-local host needs one). A scrape's
# output is kept for MGE_METRICS_CACHE_SECONDS: scrapes cannot multiply database queries.
METRICS_TOKEN = env_optional_str("MGE_METRICS_TOKEN")
METRICS_CACHE_SECONDS = env_int("MGE_METRICS_CACHE_SECONDS", 5, minimum=0)
if METRICS_TOKEN is None and not set(ALLOWED_HOSTS) <= _LOCAL_HOSTS:
    raise ImproperlyConfigured(
        "MGE_METRICS_TOKEN must be set when DJANGO_ALLOWED_HOSTS names a non-local host: "
        "/metrics lists every masterplan's cost (send it as a bearer token from Prometheus)."
    )

# Content-Security-Policy (django-csp) on every response: scripts only from this site (no
# inline script, no eval: htmx is told so in base.html), nothing framed or framing us.
# Inline *styles* stay allowed: the progress and budget bars set their width in a style
# attribute, and Swagger UI injects its styles.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- HTTPS (production) -----------------------------------------------------------
# DJANGO_HTTPS=true sets every safe value at once (what `check --deploy` asks for); each
# has its own variable to override it.
HTTPS = env_bool("DJANGO_HTTPS", False)
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", HTTPS)
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31_536_000 if HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", HTTPS)
SESSION_COOKIE_SECURE = env_bool("DJANGO_SESSION_COOKIE_SECURE", HTTPS)
CSRF_COOKIE_SECURE = env_bool("DJANGO_CSRF_COOKIE_SECURE", HTTPS)
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])
# Behind a proxy that terminates TLS: "HTTP_X_FORWARDED_PROTO,https" (the header the
# proxy sets, and its value for a secure request). Set it only behind such a proxy.
_proxy_header = env_list("DJANGO_SECURE_PROXY_SSL_HEADER", [])
if _proxy_header and len(_proxy_header) != 2:
    raise ImproperlyConfigured(
        "DJANGO_SECURE_PROXY_SSL_HEADER must be 'HEADER,value', e.g. HTTP_X_FORWARDED_PROTO,https"
    )
SECURE_PROXY_SSL_HEADER = (_proxy_header[0], _proxy_header[1]) if _proxy_header else None

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "axes",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_rq",
    "django_htmx",
    "django_prometheus",
    "csp",
    "execution",
    "acceptance",
    "budget",
    "caching",
    "precision",
    "tracing",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "mge_site.request_size.RequestSizeLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its lockout page.
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "mge_site.urls"
WSGI_APPLICATION = "mge_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "mge_site.context_processors.site",
            ],
        },
    },
]

# --- Database ----------------------------------------------------------------------

_database_url = env_optional_str("DATABASE_URL")
if _database_url:
    try:
        DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=60)}
    except ValueError as error:
        raise ImproperlyConfigured(f"DATABASE_URL is not a usable database URL: {error}") from None
else:
    VAR_DIR.mkdir(exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "mge.sqlite3"),
            # Web, worker and scheduler share the file: wait for a lock instead of failing.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis and RQ ------------------------------------------------------------------

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
if not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured(f"REDIS_URL={REDIS_URL!r} must start with redis://, rediss://.")

RQ_QUEUES = {
    name: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 3600} for name in ("default", "waves", "tests")
}
# Enqueue only after the transaction that created the rows commits, so a worker never
# looks for a row that does not exist yet.
RQ = {"COMMIT_MODE": "on_db_commit"}

# --- Auth, i18n, static ------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
# Login lockout (django-axes): after MGE_LOGIN_FAILURE_LIMIT failed logins for one
# username from one address, that pair is locked for MGE_LOGIN_LOCKOUT_MINUTES (429 and a
# page saying until when). An admin unlocks in Admin → Axes → Access attempts (delete the
# row) or with `manage.py axes_reset_username NAME`. The address is REMOTE_ADDR.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "mge_site.auth_backend.CachedPermissionsBackend",
]
# How long a user's permission set is kept in Redis between requests (0: read each time);
# every change to users, groups and permissions drops it at once (mge_site/auth_backend.py).
MGE_PERMISSIONS_CACHE_SECONDS = env_int("MGE_PERMISSIONS_CACHE_SECONDS", 300, minimum=0)
AXES_FAILURE_LIMIT = env_int("MGE_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("MGE_LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
LOGIN_REDIRECT_URL = "execution:masterplan-list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# An uploaded masterplan may be up to 1 MiB; the request limit sits above it so the
# importer, not Django, answers an oversize document with a message that says so. A body
# declared larger than DATA_UPLOAD_MAX_MEMORY_SIZE is refused (413) before it is read,
# file uploads included (mge_site/request_size.py).
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# --- API ---------------------------------------------------------------------------

REST_FRAMEWORK = {
    # Token first: an anonymous API call then gets 401 with a WWW-Authenticate header.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "mge_site.token_auth.PreparedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["mge_site.permissions.RoleModelPermissions"],
    "DEFAULT_PAGINATION_CLASS": "mge_site.pagination.PageNumberPagination",
    "DEFAULT_FILTER_BACKENDS": ["mge_site.filters.IdFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "mge_site.api_errors.exception_handler",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": [
        "mge_site.throttling.AnonThrottle",
        "mge_site.throttling.UserThrottle",
    ],
    # "N/second|minute|hour|day"; "sensitive" is confirming an override and issuing codes,
    # counted per user and per masterplan (mge_site/throttling.py).
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("MGE_API_THROTTLE_ANON", "60/minute"),
        "user": env_str("MGE_API_THROTTLE_USER", "1200/minute"),
        "sensitive": env_str("MGE_API_THROTTLE_SENSITIVE", "5/minute"),
    },
}
# The throttles' counters (and any other cache use) live in the shared Redis.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "mge:cache",
        "TIMEOUT": 300,
        # A hung Redis must not hang every API request behind its throttle.
        "OPTIONS": {"socket_timeout": 0.5, "socket_connect_timeout": 0.5},
    }
}
SPECTACULAR_SETTINGS = {
    "TITLE": "MGE V2 control plane API",
    "DESCRIPTION": "Masterplans, atoms, waves and requirements. See docs/api.md.",
    "VERSION": "2",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "mge_site.api_schema.document_errors",
    ],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "ENUM_NAME_OVERRIDES": {
        "MasterPlanStatusEnum": "execution.models.MasterPlan.Status",
        "AtomStatusEnum": "execution.models.Atom.Status",
        "WaveStatusEnum": "execution.models.Wave.Status",
        "CapRequestStatusEnum": "budget.models.CapRequest.Status",
        "BudgetStatusEnum": "budget.status.STATES",
    },
}

# --- MGE ---------------------------------------------------------------------------

MGE_LLM_PROVIDER = env_choice(
    "MGE_LLM_PROVIDER",
    "anthropic" if env_optional_str("ANTHROPIC_API_KEY") else "offline",
    ("anthropic", "offline"),
)
MGE_MODEL_BY_COMPLEXITY: dict[str, str] = env_json_object(
    "MGE_MODEL_BY_COMPLEXITY",
    {"low": "claude-haiku-4-5", "medium": "claude-sonnet-4-6", "high": "claude-opus-4-6"},
)
if set(MGE_MODEL_BY_COMPLEXITY) != {"low", "medium", "high"} or not all(
    isinstance(model, str) and model for model in MGE_MODEL_BY_COMPLEXITY.values()
):
    raise ImproperlyConfigured(
        "MGE_MODEL_BY_COMPLEXITY must map exactly low, medium and high to model names."
    )
ANTHROPIC_API_KEY = env_optional_str("ANTHROPIC_API_KEY")
ANTHROPIC_BASE_URL = env_optional_str("ANTHROPIC_BASE_URL")
# `mge budget reconcile`: the Admin API key that reads the organisation's usage report,
# and the id of the API key this deployment calls with (the report is filtered to it).
ANTHROPIC_ADMIN_API_KEY = env_optional_str("ANTHROPIC_ADMIN_API_KEY")
MGE_USAGE_REPORT_API_KEY_ID = env_optional_str("MGE_USAGE_REPORT_API_KEY_ID")
if MGE_LLM_PROVIDER == "anthropic" and not ANTHROPIC_API_KEY:
    raise ImproperlyConfigured("MGE_LLM_PROVIDER=anthropic needs ANTHROPIC_API_KEY.")
MGE_LLM_TIMEOUT_SECONDS = env_int("MGE_LLM_TIMEOUT_SECONDS", 120, minimum=1)
MGE_LLM_MAX_RETRIES = env_int("MGE_LLM_MAX_RETRIES", 2, minimum=0)
# A transient provider error that outlived the SDK's retries (429, 529, 5xx, a timeout, a
# dropped connection) is asked again after a backoff (full jitter, at least retry-after),
# up to this many times and this many seconds per atom; apart from the attempts for
# answers that do not parse.
MGE_LLM_PROVIDER_RETRIES = env_int("MGE_LLM_PROVIDER_RETRIES", 6, minimum=0)
MGE_LLM_PROVIDER_RETRY_SECONDS = env_int("MGE_LLM_PROVIDER_RETRY_SECONDS", 600, minimum=1)
MGE_LLM_BACKOFF_BASE_SECONDS = env_decimal(
    "MGE_LLM_BACKOFF_BASE_SECONDS", Decimal("2"), minimum=Decimal(0)
)
MGE_LLM_BACKOFF_MAX_SECONDS = env_decimal(
    "MGE_LLM_BACKOFF_MAX_SECONDS", Decimal("60"), minimum=Decimal(0)
)
# Past those, the plan is paused (`paused_provider`) rather than atom after atom failing;
# the scheduler probes the provider this often and resumes the plan once it answers.
MGE_LLM_PROBE_SECONDS = env_int("MGE_LLM_PROBE_SECONDS", 30, minimum=1)
MGE_LLM_MAX_TOKENS = env_int("MGE_LLM_MAX_TOKENS", 4096, minimum=16)
# Message Batches (caching.batches): requests of these purposes, not latency-bound, wait up
# to MGE_LLM_BATCH_TIMEOUT_MS for MGE_LLM_BATCH_SIZE of them and go as one batch, at the
# batch price; a batch is polled every MGE_LLM_BATCH_POLL_SECONDS and cancelled after
# MGE_LLM_BATCH_MAX_WAIT_SECONDS (the API expires it after 24 h), its items then asked
# one by one. Anthropic only: the offline provider has no batches.
MGE_LLM_BATCH = env_choice("MGE_LLM_BATCH", "on", ("on", "off"))
MGE_LLM_BATCH_PURPOSES = env_list("MGE_LLM_BATCH_PURPOSES", ["test-generation", "classification"])
# Atoms are not among them: the engine does not mark its requests (an atom waits for them).
if not set(MGE_LLM_BATCH_PURPOSES) <= {"test-generation", "classification"}:
    raise ImproperlyConfigured(
        "MGE_LLM_BATCH_PURPOSES takes a comma-separated list of test-generation and classification."
    )
MGE_LLM_BATCH_SIZE = env_int("MGE_LLM_BATCH_SIZE", 10, minimum=1, maximum=100_000)
MGE_LLM_BATCH_TIMEOUT_MS = env_int("MGE_LLM_BATCH_TIMEOUT_MS", 500, minimum=1)
MGE_LLM_BATCH_POLL_SECONDS = env_decimal(
    "MGE_LLM_BATCH_POLL_SECONDS", Decimal(5), minimum=Decimal("0.01")
)
MGE_LLM_BATCH_MAX_WAIT_SECONDS = env_int(
    "MGE_LLM_BATCH_MAX_WAIT_SECONDS", 3600, minimum=1, maximum=24 * 3600
)
# The exact LLM response cache (caching.llm_cache): answers kept this long, an answer
# larger than MGE_LLM_CACHE_MAX_BYTES not kept; a lookup slower than
# MGE_LLM_CACHE_TIMEOUT_MS goes to the provider (the cache never fails a call). A new
# namespace starts from an empty cache without flushing the old one.
MGE_LLM_CACHE = env_choice("MGE_LLM_CACHE", "on", ("on", "off"))
MGE_LLM_CACHE_TTL_SECONDS = env_int("MGE_LLM_CACHE_TTL_SECONDS", 86400, minimum=1)
MGE_LLM_CACHE_MAX_BYTES = env_int("MGE_LLM_CACHE_MAX_BYTES", 1024 * 1024, minimum=1024)
MGE_LLM_CACHE_TIMEOUT_MS = env_int("MGE_LLM_CACHE_TIMEOUT_MS", 50, minimum=1)
MGE_LLM_CACHE_NAMESPACE = env_str("MGE_LLM_CACHE_NAMESPACE", "default")
# Provider prompt caching (execution.llm.prompt_cache): a request's stable prefix (the
# system prompt and the plan's shared context) is marked for the provider's cache, kept
# 5 minutes from its last read ("5m") or an hour ("1h": for plans whose calls are further
# apart, e.g. tests generated in batches); only a prefix long enough for the model to cache.
MGE_PROMPT_CACHE = env_choice("MGE_PROMPT_CACHE", "on", ("on", "off"))
MGE_PROMPT_CACHE_TTL = env_choice("MGE_PROMPT_CACHE_TTL", "5m", ("5m", "1h"))
# An atom's context (execution.context): besides its dependencies' code, up to
# MGE_RETRIEVAL_CHUNKS chunks (other atoms' specs, earlier waves' files) a full-text search
# finds for its spec, MGE_RETRIEVAL_MAX_CHARS at most; the searches' answers are cached
# (caching.retrieval) for MGE_RETRIEVAL_CACHE_TTL_SECONDS.
MGE_RETRIEVAL = env_choice("MGE_RETRIEVAL", "on", ("on", "off"))
MGE_RETRIEVAL_CHUNKS = env_int("MGE_RETRIEVAL_CHUNKS", 4, minimum=0)
MGE_RETRIEVAL_MAX_CHARS = env_int("MGE_RETRIEVAL_MAX_CHARS", 12000, minimum=0)
MGE_RETRIEVAL_CACHE_TTL_SECONDS = env_int("MGE_RETRIEVAL_CACHE_TTL_SECONDS", 3600, minimum=1)
MGE_OFFLINE_LATENCY_MS = env_int("MGE_OFFLINE_LATENCY_MS", 400, minimum=0)
MGE_OFFLINE_RESPONSES_DIR = BASE_DIR / "examples" / "responses"
# LLM calls in flight across every worker (execution.runtime.concurrency): where the shared limit
# starts, its bounds, how often it moves, and how long a slot lives if its worker dies.
MGE_CONCURRENCY_INITIAL = env_int("MGE_CONCURRENCY_INITIAL", 100, minimum=1)
MGE_CONCURRENCY_MIN = env_int("MGE_CONCURRENCY_MIN", 10, minimum=1)
MGE_CONCURRENCY_MAX = env_int("MGE_CONCURRENCY_MAX", 200, minimum=1)
if not MGE_CONCURRENCY_MIN <= MGE_CONCURRENCY_INITIAL <= MGE_CONCURRENCY_MAX:
    raise ImproperlyConfigured(
        "MGE_CONCURRENCY_MIN <= MGE_CONCURRENCY_INITIAL <= MGE_CONCURRENCY_MAX must hold "
        f"(they are {MGE_CONCURRENCY_MIN}, {MGE_CONCURRENCY_INITIAL}, {MGE_CONCURRENCY_MAX})."
    )
MGE_CONCURRENCY_ADJUST_SECONDS = env_int("MGE_CONCURRENCY_ADJUST_SECONDS", 30, minimum=1)
# The periodic rules' latency targets (the seed's: a p95 above them cuts 10 %). A model
# that writes whole files answers in tens of seconds: raise the LLM one to suit it.
MGE_CONCURRENCY_LLM_P95_MS = env_int("MGE_CONCURRENCY_LLM_P95_MS", 2000, minimum=1)
MGE_CONCURRENCY_DB_P95_MS = env_int("MGE_CONCURRENCY_DB_P95_MS", 100, minimum=1)
# How often the dashboard's chart takes a point (limit, calls in flight, peak since).
MGE_CONCURRENCY_SAMPLE_SECONDS = env_int("MGE_CONCURRENCY_SAMPLE_SECONDS", 15, minimum=1)
# Thundering-herd guard: a wave job admits this share of its atoms, then one more step
# every interval, each atom's start spread by up to the jitter. A first step never admits
# fewer than MGE_RAMP_UP_MIN_ATOMS, so small waves start whole.
MGE_RAMP_UP_INITIAL_PCT = env_int("MGE_RAMP_UP_INITIAL_PCT", 10, minimum=1, maximum=100)
MGE_RAMP_UP_STEP_PCT = env_int("MGE_RAMP_UP_STEP_PCT", 10, minimum=1, maximum=100)
MGE_RAMP_UP_INTERVAL_MS = env_int("MGE_RAMP_UP_INTERVAL_MS", 10_000, minimum=0)
MGE_RAMP_UP_JITTER_MS = env_int("MGE_RAMP_UP_JITTER_MS", 500, minimum=0)
MGE_RAMP_UP_MIN_ATOMS = env_int("MGE_RAMP_UP_MIN_ATOMS", 10, minimum=1)
# Calls waiting for a slot beyond which new masterplans are not started (HTTP 429).
MGE_CONCURRENCY_QUEUE_MAX = env_int("MGE_CONCURRENCY_QUEUE_MAX", 1000, minimum=1)
# A running atom whose worker stops renewing its lease this long is run again.
MGE_ATOM_LEASE_SECONDS = env_int("MGE_ATOM_LEASE_SECONDS", 120, minimum=2)
# Wave jobs a worker process runs at once, each in a thread (execution/runtime/worker.py).
MGE_WORKER_JOBS = env_int("MGE_WORKER_JOBS", 16, minimum=1)
# Database connections a worker process's jobs share for their atoms' reads and writes.
MGE_DB_LANE_CONNECTIONS = env_int("MGE_DB_LANE_CONNECTIONS", 6, minimum=1)
# Seconds the lane's connections stay open once no job uses them (0: close at once).
MGE_DB_LANE_IDLE_SECONDS = env_int("MGE_DB_LANE_IDLE_SECONDS", 30, minimum=0)
# Waves larger than this are split into several jobs so several workers share them.
MGE_WAVE_SHARD_SIZE = env_int("MGE_WAVE_SHARD_SIZE", 200, minimum=1)
# Extra or replacing price rows: a JSON list like the "models" of budget/prices.json.
MGE_MODEL_PRICES: list[dict[str, str]] = env_json_list("MGE_MODEL_PRICES", [])
MGE_ALERT_WEBHOOK_URL = env_optional_str("MGE_ALERT_WEBHOOK_URL")
# The override's confirmation code goes to the *other* approvers and its requester cannot
# confirm it: on, off, or auto (on once the budget_approver group has two members).
MGE_OVERRIDE_TWO_PERSON = env_choice("MGE_OVERRIDE_TWO_PERSON", "auto", ("auto", "on", "off"))
# A reservation whose worker never settled it is charged in full after this long.
MGE_BUDGET_RESERVATION_TTL_SECONDS = env_int("MGE_BUDGET_RESERVATION_TTL_SECONDS", 900, minimum=5)
# A slot outlives the longest call: the SDK's timeout for every attempt, plus a margin.
MGE_CONCURRENCY_LEASE_SECONDS = MGE_LLM_TIMEOUT_SECONDS * (MGE_LLM_MAX_RETRIES + 1) + 30
# Acceptance tests run after every wave (queue `tests`) and their gate decides how a
# masterplan ends (completed or gate_failed).
MGE_ACCEPTANCE_AFTER_WAVES = env_bool("MGE_ACCEPTANCE_AFTER_WAVES", True)
# L1–L3 validation and a precision snapshot after every wave, L1–L4 after the last one
# (queue `tests`); each L4 tool (compileall, collect-only, tsc) has this time limit.
MGE_PRECISION_AFTER_WAVES = env_bool("MGE_PRECISION_AFTER_WAVES", True)
# After each wave, read what the generated code imports: undeclared edges between atoms
# are added, an import against the wave order fails the check (the plan's end decides).
MGE_DEPENDENCIES_AFTER_WAVES = env_bool("MGE_DEPENDENCIES_AFTER_WAVES", True)
# A trace per atom execution (the tracing app). Its events are kept in memory and written
# in bulk every MGE_TRACE_FLUSH_EVENTS events and at its end; the prompt and the answer
# it keeps are cut at MGE_TRACE_TEXT_MAX_CHARS; the scheduler prunes traces older than
# MGE_TRACE_RETENTION_DAYS once an hour.
MGE_TRACING = env_bool("MGE_TRACING", True)
MGE_TRACE_FLUSH_EVENTS = env_int("MGE_TRACE_FLUSH_EVENTS", 200, minimum=1)
MGE_TRACE_TEXT_MAX_CHARS = env_int("MGE_TRACE_TEXT_MAX_CHARS", 20000, minimum=100)
MGE_TRACE_RETENTION_DAYS = env_int("MGE_TRACE_RETENTION_DAYS", 30, minimum=1)
MGE_PRECISION_BUILD_TIMEOUT_SECONDS = env_int(
    "MGE_PRECISION_BUILD_TIMEOUT_SECONDS", 300, minimum=10
)
# The sandbox generated code runs in (the `sandbox` package): auto is bwrap, else unshare;
# none runs generated code unisolated and is refused unless DEBUG is on.
MGE_SANDBOX = env_choice("MGE_SANDBOX", "auto", ("auto", "bwrap", "unshare", "none"))
MGE_ACCEPTANCE_TEST_TIMEOUT_SECONDS = env_int("MGE_ACCEPTANCE_TEST_TIMEOUT_SECONDS", 10, minimum=1)
MGE_ACCEPTANCE_RUN_TIMEOUT_SECONDS = env_int("MGE_ACCEPTANCE_RUN_TIMEOUT_SECONDS", 300, minimum=1)
# Limits of every process in the sandbox (rlimits), and of the whole run (process count:
# threads included; tmpfs size of its /tmp, which holds the workspace copy, and /dev/shm).
# Memory is address space: Node reserves ~1.5 GB of it before running a test.
MGE_SANDBOX_CPU_SECONDS = env_int("MGE_SANDBOX_CPU_SECONDS", 300, minimum=1)
MGE_SANDBOX_MEMORY_MB = env_int("MGE_SANDBOX_MEMORY_MB", 4096, minimum=64)
MGE_SANDBOX_FILE_SIZE_MB = env_int("MGE_SANDBOX_FILE_SIZE_MB", 64, minimum=1)
MGE_SANDBOX_OPEN_FILES = env_int("MGE_SANDBOX_OPEN_FILES", 1024, minimum=16)
MGE_SANDBOX_PROCESSES = env_int("MGE_SANDBOX_PROCESSES", 256, minimum=8)
MGE_SANDBOX_TMPFS_MB = env_int("MGE_SANDBOX_TMPFS_MB", 512, minimum=8)
MGE_CLI_MODULES = [
    "execution.cli.commands",
    "execution.cli.run",
    "execution.cli.deps",
    "budget.cli",
    "precision.cli",
    "tracing.cli",
]
MGE_WORKSPACE_ROOT = Path(env_str("MGE_WORKSPACE_ROOT", str(VAR_DIR / "workspaces"))).resolve()
MGE_BUDGET_HARD_CAP_USD = env_decimal("MGE_BUDGET_HARD_CAP_USD", Decimal("200"), minimum=Decimal(0))
# A hard cap above this, in an imported document or an edit by someone who is not a
# budget_approver, is held as a pending cap request; the plan gets this cap meanwhile.
MGE_BUDGET_MAX_CAP_WITHOUT_APPROVAL_USD = env_decimal(
    "MGE_BUDGET_MAX_CAP_WITHOUT_APPROVAL_USD", MGE_BUDGET_HARD_CAP_USD, minimum=Decimal(0)
)
MGE_BUDGET_SOFT_CAP_RATIO = env_decimal(
    "MGE_BUDGET_SOFT_CAP_RATIO", Decimal("0.7"), minimum=Decimal(0), maximum=Decimal(1)
)
MGE_MASTERPLAN_MAX_BYTES = 1024 * 1024

# Budget alerts and override codes go to approvers by mail; without a mail server the
# console backend prints them in the worker's log.
EMAIL_BACKEND = env_str("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("DJANGO_EMAIL_HOST", "localhost")
DEFAULT_FROM_EMAIL = env_str("DJANGO_DEFAULT_FROM_EMAIL", "mge@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    # One line per HTTP request of the SDK would drown the worker's log.
    "loggers": {"httpx": {"level": "WARNING"}, "httpx2": {"level": "WARNING"}},
    "root": {
        "handlers": ["console"],
        "level": env_choice("MGE_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
    },
}
