"""Every setting, read once from the environment (django-environ).

Three modes, chosen by PLATFORM_MODE:
- ``embedded`` (default, ``make run``): SQLite in WAL mode and media under var/, Redis as broker
  when it answers on 127.0.0.1:6379, else Celery's filesystem transport under var/.
- ``production``: PostgreSQL (DATABASE_URL), a broker (CELERY_BROKER_URL), S3-compatible storage,
  a required SECRET_KEY and the security settings that ``check --deploy`` asks for.
- ``test``: PostgreSQL and Redis on 127.0.0.1, as ``make test`` and CI run them.
"""

import os
import secrets
from pathlib import Path

import environ

from config.brokers import filesystem_transport_options, redis_reachable

ROOT_DIR = Path(__file__).resolve().parents[2]
PLATFORM_DIR = ROOT_DIR / "platform"

env = environ.Env()
if (ROOT_DIR / ".env").exists():
    env.read_env(ROOT_DIR / ".env")

PLATFORM_MODE = env.str("PLATFORM_MODE", default="embedded")
if PLATFORM_MODE not in {"embedded", "production", "test"}:
    raise environ.ImproperlyConfigured(
        f"PLATFORM_MODE must be embedded, production or test, not {PLATFORM_MODE!r}"
    )
PRODUCTION = PLATFORM_MODE == "production"
VAR_DIR = Path(env.str("VAR_DIR", default=str(ROOT_DIR / "var")))


def _embedded_secret_key() -> str:
    """A random key kept in var/ so sessions survive restarts of the embedded run."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(64))
        path.chmod(0o600)
    return path.read_text().strip()


# --- Core ----------------------------------------------------------------------------------
if PRODUCTION:
    SECRET_KEY = env.str("SECRET_KEY")  # required: no default on purpose
elif PLATFORM_MODE == "test":
    SECRET_KEY = env.str("SECRET_KEY", default="test-only-key-" + "x" * 50)
else:
    SECRET_KEY = env.str("SECRET_KEY", default="") or _embedded_secret_key()

DEBUG = env.bool("DJANGO_DEBUG", default=PLATFORM_MODE == "embedded")
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=[] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_celery_results",
    "django_vite",
    "config",
    "accounts",
    "projects",
    "imaging",
    "annotations",
    "inference",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.middleware.PlatformErrorPages",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"
AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "project-list"
LOGOUT_REDIRECT_URL = "login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PLATFORM_DIR / "config" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

if PLATFORM_MODE == "test":
    # Hashing dominates a test that makes five users; the strength of test passwords is moot.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Database ------------------------------------------------------------------------------
if PRODUCTION:
    DATABASES = {"default": env.db_url("DATABASE_URL")}
elif PLATFORM_MODE == "test":
    DATABASES = {
        "default": env.db_url(
            "DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/noduleflow"
        )
    }
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while a worker writes; IMMEDIATE avoids lock upgrades
    # failing halfway through a transaction.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# --- Files ---------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(ROOT_DIR / "staticfiles")))
FRONTEND_DIST = ROOT_DIR / "frontend" / "dist"
# App static folders (config/static, ...) are found by the app finder; Vite's build by this.
STATICFILES_DIRS = [FRONTEND_DIST]
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise scans it at start-up
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))

STORAGE_BACKEND = env.str("STORAGE_BACKEND", default="s3" if PRODUCTION else "filesystem")
if STORAGE_BACKEND == "s3":
    default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("AWS_STORAGE_BUCKET_NAME", default="noduleflow"),
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            "access_key": env.str("AWS_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default="") or None,
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
elif STORAGE_BACKEND == "filesystem":
    default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT)},
    }
else:
    raise environ.ImproperlyConfigured("STORAGE_BACKEND must be filesystem or s3")
STORAGES = {
    "default": default_storage,
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Vite already fingerprints its bundle names: let browsers cache them for a year.
WHITENOISE_IMMUTABLE_FILE_TEST = r"^.+[.-][0-9a-zA-Z_-]{8,12}\..+$"

DJANGO_VITE = {
    "default": {
        "dev_mode": env.bool("VITE_DEV_MODE", default=False),
        "manifest_path": FRONTEND_DIST / "manifest.json",
        "static_url_prefix": "",
    }
}

# The shared LIDC cases the demo project loads (read-only; see README, Data).
SHARED_DATA_DIR = Path(env.str("SHARED_DATA_DIR", default=str(ROOT_DIR.parent / "shared" / "data")))

# --- DICOM ingest limits (each rejection names the limit it hit) --------------------------------
DICOM_MAX_INSTANCE_BYTES = env.int("DICOM_MAX_INSTANCE_BYTES", default=512 * 1024**2)
DICOM_MAX_UPLOAD_BYTES = env.int("DICOM_MAX_UPLOAD_BYTES", default=8 * 1024**3)
DICOM_MAX_ROWS_COLUMNS = env.int("DICOM_MAX_ROWS_COLUMNS", default=16384)
DICOM_MAX_FRAMES = env.int("DICOM_MAX_FRAMES", default=10000)
DICOM_MAX_SEQUENCE_DEPTH = env.int("DICOM_MAX_SEQUENCE_DEPTH", default=16)
# Processes that parse and check received files beside the one storing them (imaging.ingest_pool);
# 0 parses in the storing process. One core gains nothing from a pool.
_CORES = os.cpu_count() or 1
DICOM_INGEST_WORKERS = env.int("DICOM_INGEST_WORKERS", default=min(4, _CORES) if _CORES > 1 else 0)
# A zip member may not inflate more than this many times its compressed size.
DICOM_MAX_ZIP_RATIO = env.int("DICOM_MAX_ZIP_RATIO", default=200)
# A labelmap payload (gzip of one byte per voxel) beyond this is refused with 413.
LABELMAP_MAX_BYTES = env.int("LABELMAP_MAX_BYTES", default=64 * 1024**2)
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=10 * 1024**2)
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024**2

# --- Inference ------------------------------------------------------------------------------
# "auto": CUDA when torch sees a GPU, else CPU. Or "cpu", "cuda", "cuda:1".
INFERENCE_DEVICE = env.str("INFERENCE_DEVICE", default="auto")
INFERENCE_MAX_ATTEMPTS = env.int("INFERENCE_MAX_ATTEMPTS", default=3)

# --- Celery --------------------------------------------------------------------------------
EMBEDDED_REDIS_URL = env.str("EMBEDDED_REDIS_URL", default="redis://127.0.0.1:6379/0")
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
    # acks_late tasks (inference, training) run long: don't redeliver them while still running.
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=4 * 3600),
}
if PRODUCTION:
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL")
elif PLATFORM_MODE == "test":
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/15")
else:
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
    if not CELERY_BROKER_URL:
        if redis_reachable(EMBEDDED_REDIS_URL):
            CELERY_BROKER_URL = EMBEDDED_REDIS_URL
        else:
            CELERY_BROKER_URL = "filesystem://"
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = filesystem_transport_options(VAR_DIR / "celery")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="django-db")
CELERY_RESULT_EXTENDED = True
CELERY_TASK_TRACK_STARTED = True
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_DEFAULT_EXCHANGE = "default"
CELERY_TASK_DEFAULT_ROUTING_KEY = "default"
# Inference and training go to GPU workers; everything else to the default queue.
CELERY_TASK_ROUTES = {"inference.*": {"queue": "gpu"}}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = False
# How long /healthz waits for workers to answer a ping.
HEALTH_WORKER_TIMEOUT = env.float("HEALTH_WORKER_TIMEOUT", default=1.0)

# --- API -----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: an anonymous API call gets 401 with a WWW-Authenticate header, not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.errors.api_exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "NoduleFlow API",
    "DESCRIPTION": "Projects, imaging, annotations and inference for lung-nodule labeling.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a `state`; name each enum after its model's choices.
    "ENUM_NAME_OVERRIDES": {
        "TaskStateEnum": "annotations.models.TaskState",
        "SeriesStateEnum": "imaging.models.SeriesState",
        "RunStateEnum": "inference.models.RunState",
    },
}

# --- Logging: structured, never patient data (log primary keys) -------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "kv": {"format": "ts=%(asctime)s level=%(levelname)s logger=%(name)s msg=%(message)s"}
    },
    "filters": {"redact_uids": {"()": "config.logfilters.RedactUids"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "kv",
            "filters": ["redact_uids"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# --- Security ------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads it to send X-CSRFToken
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
if PRODUCTION:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # Behind a TLS-terminating proxy, trust its X-Forwarded-Proto header.
    if env.bool("SECURE_PROXY_SSL_HEADER", default=True):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SILENCED_SYSTEM_CHECKS = env.list("SILENCED_SYSTEM_CHECKS", default=[])
