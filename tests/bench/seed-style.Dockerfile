# DELIBERATELY NAIVE: this is not how to run babyshop. It is only the baseline
# of `make bench` (tests/bench/bench.py), written the way the tutorials this
# project replaces do it, so that the bench can show what the production image
# and stack gain over it on the same machine, with the same data and the
# same CPU limit. Everything below is a known mistake, on purpose:
#   - one stage, nothing trimmed;
#   - the code is copied BEFORE the dependencies are installed, so any change
#     to any file reinstalls every package;
#   - unpinned, unhashed packages: whatever PyPI has newest on the day
#     (Django only within the release series the app is written for, as
#     requirements/base.in has it: the bench compares ways of deploying the
#     same app, not Django releases);
#   - runs as root, with DEBUG on;
#   - migrates at every start, then serves with Django's development server
#     (one process, autoreloader on).
# Never use it for anything else.
#
# The package list is what the app imports at run time: requirements/base.in,
# with psycopg as its binary wheel, as the tutorials have it.
# The same base as the production image (make bench passes the Dockerfile's).
ARG PYTHON_IMAGE
FROM ${PYTHON_IMAGE}

WORKDIR /app
COPY babyshop_app/ .

# Unpinned and with pip's cache left in the layer, as in the tutorials: that
# is the baseline being measured (DL3013: pin versions; DL3042: --no-cache-dir).
# hadolint ignore=DL3013,DL3042
RUN pip install "Django>=6.1,<6.2" "psycopg[binary]" Pillow whitenoise django-environ \
    django-axes django-ratelimit django-permissions-policy redis django-tasks-db sentry-sdk \
    prometheus-client

ENV DEBUG=true
EXPOSE 8000
CMD ["sh", "-c", "python manage.py migrate && python manage.py runserver 0.0.0.0:8000"]
