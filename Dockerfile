# One Dockerfile, three named stages:
#   builder      compilers and headers; builds the locked dependencies into /opt/venv
#   development  builder + test tools, runs as your UID/GID (docker-compose.yml)
#   production   slim runtime: /opt/venv and the app only (the default target)
# Built with BuildKit (the default builder of current Docker).

# The base image is a build argument so that a mirror or a pinned digest can be
# used without editing this file: --build-arg PYTHON_IMAGE=...
ARG PYTHON_IMAGE=python:3.13-slim

FROM ${PYTHON_IMAGE} AS builder

# No .pyc files in layers, logs straight to stdout, no pip version nagging,
# and the virtualenv first on PATH so that `pip` and `python` are its own.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

# gcc and libpq's headers build psycopg's C implementation; they stay in this
# stage and never reach the production image.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential libpq-dev \
 && rm -rf /var/lib/apt/lists/*

# A virtualenv is one directory that the runtime stage can copy as a whole.
RUN python -m venv "$VIRTUAL_ENV"

# Only the lock files, before any app code: editing the app reuses this layer
# instead of reinstalling every dependency. --require-hashes refuses anything
# that is not exactly what requirements/*.txt pinned; the cache mount keeps
# downloaded wheels between builds without storing them in a layer.
COPY requirements/production.txt /tmp/requirements/
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --require-hashes --no-deps -r /tmp/requirements/production.txt


FROM builder AS development

COPY requirements/development.txt /tmp/requirements/
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --require-hashes --no-deps -r /tmp/requirements/development.txt

# entrypoint.sh is executable in git; COPY keeps its mode.
# The code is bind-mounted at /app; running as the host user's UID/GID makes
# files the container writes there (migrations, uploads) belong to that user.
# --non-unique lets this work for any UID, 0 included.
ARG UID=1000
ARG GID=1000
RUN groupadd --non-unique --gid "$GID" app \
 && useradd --non-unique --uid "$UID" --gid "$GID" --create-home --shell /bin/bash app

COPY entrypoint.sh /entrypoint.sh
WORKDIR /app
USER ${UID}:${GID}
EXPOSE 8000
ENTRYPOINT ["/entrypoint.sh"]
CMD ["python", "manage.py", "runserver", "0.0.0.0:8000"]


FROM ${PYTHON_IMAGE} AS production

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PORT=8000

# libpq is the one system library the app needs at run time (psycopg's C
# implementation links to it); no compiler, no headers.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 \
 && rm -rf /var/lib/apt/lists/*

# A fixed, unprivileged UID/GID: volume permissions are predictable on every
# host, and it matches no real user there.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app

COPY --from=builder /opt/venv /opt/venv
COPY entrypoint.sh /entrypoint.sh

WORKDIR /app
# Code owned by root and read-only to the app user; .dockerignore keeps tests,
# .git, .env and local media out of the context.
COPY babyshop_app/ /app/

# Static files are collected and compressed now, once, into the image. This
# needs neither a database nor the real secret: the settings get a throwaway
# key that exists only during this step, and no database is opened.
RUN SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(64))')" \
    DATABASE_URL=postgres://collectstatic@build.invalid/none \
    ALLOWED_HOSTS=build.invalid \
    python manage.py collectstatic --noinput --verbosity 0

# The media directory exists and belongs to the app user, so that a named
# volume mounted here starts with that ownership and uploads just work.
RUN install -d -o app -g app /app/media

# Numeric, so that Kubernetes' runAsNonRoot and `docker inspect` can verify it.
USER 10001:10001
EXPOSE 8000

# Liveness only (no database): /healthz answers as soon as gunicorn serves.
# Python, because the slim image has no curl; any error exits non-zero.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ['PORT'], timeout=2)"]

# The entrypoint waits for the database and applies migrations at start, then
# execs the command: gunicorn replaces the shell and gets SIGTERM directly.
ENTRYPOINT ["/entrypoint.sh"]
CMD ["gunicorn", "--config", "gunicorn.conf.py", "babyshop.wsgi"]
