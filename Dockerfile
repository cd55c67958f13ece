# syntax=docker/dockerfile:1
#
# One image for every NoduleFlow process (web, worker, gpu-worker, beat); docker-compose.yml
# picks the process with `command:`. Two stages: Node builds the viewer bundle, Python runs
# the site and serves that bundle as static files (whitenoise).

ARG PYTHON_VERSION=3.11
# Vite 8 needs Node ^20.19 or >=22.12.
ARG NODE_VERSION=20

# --- frontend: frontend/dist (Vite bundle + manifest.json for django-vite) ------------------
FROM node:${NODE_VERSION} AS frontend
WORKDIR /src/frontend
# Manifests first, so the dependency layer is reused until they change.
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

# --- app -------------------------------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim AS app

# Where torch comes from. The default is the CPU build, which keeps the image small and runs
# everywhere. A CUDA image sets this to the cu index of a CUDA version that torch 2.13 is
# built for and the host driver supports:
#   docker build --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cuXYZ .
# (CUDA wheels bring their CUDA runtime as pip packages: no CUDA base image is needed, only the
# NVIDIA driver and container toolkit on the host; they also run on machines without a GPU.)
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

# platform/ is a source root, not a package (see README): celery, manage.py and gunicorn all
# import `config`, `accounts`, ... from /app/platform and `annotations`, `inference` from /app.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app/platform:/app

WORKDIR /app

# torch first, from its own index: pyproject pins torch==2.13.*, which the +cpu (or +cuXYZ)
# build already satisfies, so the installs below never fetch PyPI's default CUDA wheel.
RUN pip install "torch==2.13.*" --index-url "${TORCH_INDEX_URL}"

# The rest of the dependencies, read from pyproject.toml alone so that this layer survives
# code changes.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project'].get('dependencies', [])))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY . .
COPY --from=frontend /src/frontend/dist ./frontend/dist
# Install the project itself (dependencies are already there); drop setuptools' in-tree
# leftovers so they don't shadow the installed metadata on PYTHONPATH.
RUN pip install . && rm -rf build ./*.egg-info

# Static files are baked into the image (whitenoise serves them from STATIC_ROOT=/app/staticfiles).
# Production settings refuse to load without these variables; the values below exist only for
# this step and are not kept in the image. Nothing here connects to them.
RUN PLATFORM_MODE=production \
    SECRET_KEY=collectstatic-at-build-time-only \
    DATABASE_URL=postgres://build:build@localhost:5432/build \
    CELERY_BROKER_URL=redis://localhost:6379/0 \
    STORAGE_BACKEND=s3 \
    AWS_STORAGE_BUCKET_NAME=build \
    python manage.py collectstatic --noinput

# Run as an unprivileged user; it owns only var/ (scratch space) and its home (library caches).
# USER is numeric so that orchestrators can tell it is not root without reading /etc/passwd.
RUN useradd --create-home --uid 10001 --user-group app \
    && mkdir -p /app/var \
    && chown app:app /app/var
USER 10001:10001

EXPOSE 8000
CMD ["gunicorn", "--pythonpath", "platform,.", "config.wsgi:application", "--bind", "0.0.0.0:8000"]
