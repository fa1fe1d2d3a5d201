# One Dockerfile, named stages:
#   base          the Python image everything starts from
#   builder       compilers and headers; uv installs the locked dependencies into /opt/venv
#   development   builder + test tools, runs as your UID/GID (docker-compose.yml)
#   static        collectstatic, from the settings and static files only
#   runtime-venv  the builder's venv, trimmed to what runs
#   production    slim runtime: the trimmed venv, collected static files and the app (the default target)
# Built with BuildKit (the default builder of current Docker): the cache
# mounts below keep apt's and uv's downloads between builds, never in a layer.

# The base image, named once: both the builder and the runtime start from
# it, and the lock files' target Python, the scripts and the tests read the
# version from this line (scripts/base-image.sh). Dependabot proposes new
# tags for it; `make lock` after a new Python version.
FROM python:3.13-slim AS base

FROM base AS builder

# No .pyc files written by accident, logs straight to stdout, and the
# virtualenv first on PATH so that `python` is its own. uv: copy files out of
# its cache mount (hard links cannot cross into a layer), never download a
# Python of its own, keep its cache where the mount is.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_CACHE_DIR=/root/.cache/uv

# Debian's images delete downloaded packages after each install; keep them in
# the cache mounts instead, so a rebuild without layer cache downloads nothing.
RUN rm -f /etc/apt/apt.conf.d/docker-clean \
 && echo 'Binary::apt::APT::Keep-Downloaded-Packages "true";' >/etc/apt/apt.conf.d/keep-cache

# gcc and libpq's headers build psycopg's C implementation (gcc brings
# binutils, whose strip trims the compiled extensions); not build-essential,
# whose g++, make and dpkg-dev nothing here uses (3 s of a cold build). They
# stay in this stage.
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt,sharing=locked \
    apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev libpq-dev

# uv, itself hash-locked: it installs the same files pip would, verifies the
# same hashes, and caches the wheel it builds for psycopg-c, so a build
# without layer cache does not compile it again. Installed into a plain
# directory by the image's pip: a virtualenv of its own would first install
# pip again (2.5 s).
COPY requirements/build.txt /tmp/requirements/
RUN --mount=type=cache,target=/root/.cache/pip \
    python -m pip install --quiet --require-hashes --no-deps --target /opt/uv -r /tmp/requirements/build.txt \
 && ln -s /opt/uv/bin/uv /usr/local/bin/uv

# A virtualenv is one directory that later stages copy as a whole; uv's has
# no pip or setuptools in it.
RUN uv venv --quiet "$VIRTUAL_ENV"

# Only the lock files, before any app code: editing the app reuses this layer
# instead of reinstalling every dependency. --require-hashes refuses anything
# that is not exactly what requirements/*.txt pinned.
COPY requirements/production.txt /tmp/requirements/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv pip install --quiet --require-hashes --no-deps -r /tmp/requirements/production.txt


FROM builder AS development

COPY requirements/development.txt /tmp/requirements/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv pip install --quiet --require-hashes --no-deps -r /tmp/requirements/development.txt

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
# The code too, for `make watch` (docker-compose.watch.yml), which copies
# saved files in instead of mounting the directory; `make up` mounts
# babyshop_app over it. Last: a code change rebuilds only this layer.
COPY --chown=${UID}:${GID} babyshop_app/ /app/
# The UID alone (its group comes from the user above): Docker resolves a
# "uid:gid" user through getent when Compose copies files in, and fails.
USER ${UID}
EXPOSE 8000
ENTRYPOINT ["/entrypoint.sh"]
CMD ["python", "manage.py", "runserver", "0.0.0.0:8000"]


# Every static/ directory of the code, and nothing else, at its own path.
# This stage runs again for any change to the code, but when its output is
# the same (a view or a template changed), the static stage below is taken
# from the layer cache: BuildKit compares what is copied, not where it came from.
FROM base AS static-sources
WORKDIR /src
COPY babyshop_app/ ./
RUN mkdir /static-sources \
 && find . -type d -name static -prune -exec cp --parents -r -t /static-sources/ {} +

# Static files are collected and compressed here, once, from the settings
# and the static files alone (babyshop/collectstatic_settings.py), so that a
# change to a view, a URL or a template does not run this again. It needs
# neither a database nor the real secret: a throwaway key exists only here.
FROM builder AS static
WORKDIR /app
COPY babyshop_app/manage.py ./
COPY babyshop_app/babyshop/__init__.py babyshop_app/babyshop/settings.py babyshop_app/babyshop/config.py \
     babyshop_app/babyshop/collectstatic_settings.py babyshop/
COPY --from=static-sources /static-sources/ ./
RUN SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(64))')" \
    DATABASE_URL=postgres://collectstatic@build.invalid/none \
    ALLOWED_HOSTS=build.invalid \
    DJANGO_SETTINGS_MODULE=babyshop.collectstatic_settings \
    python manage.py collectstatic --noinput --verbosity 0


# What runs needs no compiler's leftovers: brotli only compressed the static
# files above; C sources and translation sources (.po; the compiled .mo stay)
# are not read at run time, nor are the admin's static files (their collected
# copies are served); GeoDjango needs GDAL and GEOS, which this image does not
# have; nor is Pillow's AVIF codec (5 MB: uploads take PNG, JPEG, GIF and WebP
# only, babyshop/images.py; without it Pillow reports AVIF as unsupported);
# nor botocore's and boto3's descriptions of AWS services other than S3 (26 MB;
# django-storages talks to S3 only); nor the translations of languages not in
# LOCALES (7 MB: LANGUAGE_CODE is en-us and no middleware picks another; a
# project that translates adds its languages, e.g. --build-arg LOCALES="en|de");
# debug symbols are stripped from the extensions.
# Then every module is compiled to bytecode now, once: the container's root
# filesystem is read-only, so otherwise each process would compile Django
# again in memory at every start (0.9 s instead of 0.3 s for manage.py check,
# for 12 MB). unchecked-hash: these files never change, whatever their mtime.
FROM builder AS runtime-venv
ARG LOCALES="en"
RUN uv pip uninstall --quiet brotli \
 && find "$VIRTUAL_ENV" \( -name '*.c' -o -name '*.pyx' -o -name '*.pxd' -o -name '*.po' \) -delete \
 && rm -rf "$VIRTUAL_ENV"/lib/python3.*/site-packages/django/contrib/gis \
           "$VIRTUAL_ENV"/lib/python3.*/site-packages/django/contrib/admin/static \
           "$VIRTUAL_ENV"/lib/python3.*/site-packages/PIL/_avif.*.so \
           "$VIRTUAL_ENV"/lib/python3.*/site-packages/pillow.libs/libavif-*.so* \
 && find "$VIRTUAL_ENV"/lib/python3.*/site-packages/botocore/data -mindepth 1 -maxdepth 1 ! -name s3 \
      ! -name endpoints.json ! -name partitions.json ! -name sdk-default-configuration.json ! -name _retry.json \
      -exec rm -rf {} + \
 && find "$VIRTUAL_ENV"/lib/python3.*/site-packages/boto3/data -mindepth 1 -maxdepth 1 ! -name s3 -exec rm -rf {} + \
 && find "$VIRTUAL_ENV" -regextype posix-extended -type d -path '*/locale/*' ! -path '*/locale/*/*' \
      ! -name __pycache__ ! -regex ".*/locale/(${LOCALES})" -exec rm -rf {} + \
 && find "$VIRTUAL_ENV" -name '*.so*' -type f -exec strip --strip-unneeded {} + \
 && python -m compileall -q -j 0 --invalidation-mode unchecked-hash "$VIRTUAL_ENV"


FROM base AS production

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PORT=8000

# libpq is the one system library the app needs at run time (psycopg's C
# implementation links to it); no compiler, no headers. apt's lists stay in
# the cache mount, out of the layer.
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt,sharing=locked \
    rm -f /etc/apt/apt.conf.d/docker-clean \
 && apt-get update \
 && apt-get install -y --no-install-recommends libpq5

# A fixed, unprivileged UID/GID: volume permissions are predictable on every
# host, and it matches no real user there. The media directory exists and
# belongs to the app user, so that a named volume mounted there starts with
# that ownership and uploads just work.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app \
 && install -d -o app -g app /app/media

COPY --from=runtime-venv /opt/venv /opt/venv
COPY entrypoint.sh /entrypoint.sh
COPY --from=static /app/staticfiles /app/staticfiles

# Last, as it changes most: the code, owned by root and read-only to the app
# user; .dockerignore keeps tests, .git, .env and local media out of the
# context. A change here rebuilds only this layer.
WORKDIR /app
COPY babyshop_app/ /app/

# The git revision built (make push and CI pass it; empty otherwise): error
# reports name it as their release. After the code, as it changes as often.
ARG REVISION=""
ENV REVISION=$REVISION

# Numeric, so that Kubernetes' runAsNonRoot and `docker inspect` can verify it.
USER 10001:10001
EXPOSE 8000

# Liveness only (no database): /healthz answers as soon as gunicorn serves.
# Python, because the slim image has no curl; any error exits non-zero.
# Every 250 ms until the first success, so `up --wait` returns as soon as
# gunicorn serves; every 10 s after that. The compose files probe db and the
# cache the same way. (The start interval needs Docker Engine 25 or later:
# an older one ignores it here and Compose names it there.)
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --start-interval=0.25s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ['PORT'], timeout=2)"]

# The entrypoint checks the settings, waits for the database and applies
# migrations at start, then execs the command: gunicorn replaces the shell
# and gets SIGTERM directly.
ENTRYPOINT ["/entrypoint.sh"]
CMD ["gunicorn", "--config", "gunicorn.conf.py", "babyshop.wsgi"]
