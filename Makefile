# babyshop: every operation, in one place. `make` (or `make help`) lists them.
#
# Development uses docker-compose.yml; production uses docker-compose.prod.yml
# with the settings in $(ENV_FILE). Host-side tools (linters, the stack tests,
# the lock tool) live in a venv this Makefile creates in .venv.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Files the dev container writes on the bind mount belong to you.
export HOST_UID ?= $(shell id -u)
export HOST_GID ?= $(shell id -g)
# Where `make push` sends the production image and `make deploy` takes it
# from: $(REGISTRY)/$(IMAGE):$(TAG), e.g. REGISTRY=ghcr.io/acme.
REGISTRY ?= localhost:5000
IMAGE ?= babyshop
GIT_SHA := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
TAG ?= $(GIT_SHA)
# `make deploy`: the VM (user@host, reached over SSH) and the bundle's place there.
DEPLOY_HOST ?=
DEPLOY_PATH ?= /srv/babyshop
ENV_FILE ?= .env
export ENV_FILE

# The dev stack's Compose project (the name in docker-compose.yml unless
# DEV_PROJECT=... is given), named on every dev command, which reads no .env:
# a .env written for production may set COMPOSE_PROJECT_NAME, and Compose
# would then aim make up, down, test and clean at the production stack (clean
# deleting its database). Dev settings such as DEV_PORT come from make's
# command line or the environment instead.
DEV_PROJECT ?= $(shell sed -n 's/^name: *//p' docker-compose.yml)
# `make upgrade`: the blueprint this project was made from, and its branch.
BLUEPRINT ?=
BLUEPRINT_REF ?= main
# `make up CACHE_URL=redis://cache:6379/0` starts the shared cache (Valkey)
# too, and MEDIA_STORAGE=s3 the object store (only the dev commands pass them
# on: the production scripts read them from the env file).
DEV := CACHE_URL=$(CACHE_URL) MEDIA_STORAGE=$(or $(MEDIA_STORAGE),local) \
	docker compose --project-name $(DEV_PROJECT) --env-file /dev/null -f docker-compose.yml \
	$(if $(CACHE_URL),--profile cache) \
	$(if $(filter s3 S3,$(MEDIA_STORAGE)),--profile object-storage)
PROD := scripts/compose.sh
# A rebuilt image takes the tag from the one before, which stays untagged:
# remove this project's untagged images once no container uses them (Compose
# has no option for it). Housekeeping only: when the engine refuses (another
# prune is running, say), the next build's prune takes them and the command
# goes on.
PRUNE := @docker image prune --force --filter label=com.docker.compose.project=$(DEV_PROJECT) >/dev/null \
	|| echo "make: not pruned now: the untagged images of $(DEV_PROJECT) go at the next build" >&2
# The dev container for one-off commands: no migrations at start.
RUN := $(DEV) run --rm -e MIGRATE_ON_START=false web
# The images' Python, from the Dockerfile's base image (python:X.Y-slim):
# the lock files are resolved for it. The host tools' lock is resolved for
# the oldest Python the host may have (HOST_PYTHON; ruff.toml's target too).
PYTHON_VERSION := $(patsubst python:%-slim,%,$(shell scripts/base-image.sh))
HOST_PYTHON := 3.11
VENV := .venv
TOOLS := $(VENV)/.installed

.PHONY: help
help: ## List every target
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-15s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

## ---- development -----------------------------------------------------------

.PHONY: build
build: ## Build the development image
	$(DEV) build web
	$(PRUNE)

.PHONY: up
up: build ## Start the dev stack (http://localhost:8000, hot reload)
	$(DEV) up -d --wait
	$(PRUNE)
	@echo "babyshop is up: http://localhost:$${DEV_PORT:-8000}  (admin: make manage ARGS=createsuperuser)"
	@echo "mail it sends: http://localhost:$${MAIL_UI_PORT:-8025}"

.PHONY: watch
watch: build ## The dev stack without the bind mount: Compose syncs saved files in, rebuilds on lock changes (Ctrl-C)
	$(DEV) -f docker-compose.yml -f docker-compose.watch.yml watch

.PHONY: down
down: ## Stop the dev stack (keeps the database volume)
	$(DEV) --profile cache --profile object-storage down --remove-orphans

.PHONY: restart
restart: ## Restart the dev stack's worker after changing a task (runserver reloads by itself)
	$(DEV) restart worker

.PHONY: logs
logs: ## Follow the dev stack's logs
	$(DEV) logs -f

.PHONY: shell
shell: ## Open a Django shell in the dev container
	$(RUN) python manage.py shell

.PHONY: manage
manage: ## Run a manage.py command: make manage ARGS="createsuperuser"
	$(RUN) python manage.py $(ARGS)

.PHONY: migrate
migrate: ## Apply migrations (under the same lock the entrypoint uses)
	$(RUN) python manage.py migrate_locked

.PHONY: makemigrations
makemigrations: ## Create migrations for model changes
	$(RUN) python manage.py makemigrations

# demo: start
.PHONY: seed
seed: ## Load the demo catalog (idempotent)
	$(RUN) python manage.py seed_demo

# demo: end

.PHONY: upgrade
upgrade: $(TOOLS) ## Take the blueprint's later commits, renamed to this project's name first: make upgrade BLUEPRINT=<its git URL>
	$(VENV)/bin/python scripts/upgrade.py $(call quote,$(BLUEPRINT)) $(call quote,$(BLUEPRINT_REF))

.PHONY: remove-demo
remove-demo: ## Take the demo catalog out: the products app and every line wiring it in (refuses a dirty tree)
	python3 scripts/remove_demo.py

.PHONY: rename
# Through the tools' Python: the script formats what it renamed with their ruff.
rename: $(TOOLS) build ## Give the project your name: make rename NAME=acme_store (package, images, database, paths; docs/development.md)
	DEV_PROJECT=$(call quote,$(DEV_PROJECT)) $(VENV)/bin/python scripts/rename.py $(call quote,$(NAME))

## ---- quality ---------------------------------------------------------------

.PHONY: test
test: build ## App tests: pytest-django in the dev image against the compose Postgres (and SeaweedFS)
	$(DEV) --profile object-storage run --rm -e MIGRATE_ON_START=false web pytest $(ARGS)

.PHONY: e2e
e2e: $(TOOLS) ## Stack tests: build the production image, run docker-compose.prod.yml, check it over HTTP
	$(VENV)/bin/pytest tests/e2e $(ARGS)

# Prometheus's own checker, from the image docker-compose.monitoring.yml runs:
# the configuration with its alert rules, and the rules' unit tests.
PROMTOOL = docker run --rm --volume "$(CURDIR)/monitoring:/etc/prometheus:ro" --workdir /etc/prometheus \
	--entrypoint promtool $(shell sed -n 's/^ *image: \(prom\/prometheus:.*\)/\1/p' docker-compose.monitoring.yml)

.PHONY: lint
lint: $(TOOLS) build ## ruff, hadolint, shellcheck, actionlint (.github/workflows), promtool (monitoring/), and no model change without its migration
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/hadolint Dockerfile tests/bench/*.Dockerfile
	$(VENV)/bin/shellcheck --external-sources entrypoint.sh .ci/run scripts/*.sh
	$(VENV)/bin/actionlint -shellcheck $(VENV)/bin/shellcheck
	$(PROMTOOL) check config prometheus.yml
	$(PROMTOOL) test rules alerts.test.yml
	$(RUN) python manage.py makemigrations --check --dry-run

.PHONY: hooks
hooks: $(TOOLS) ## Run `make lint` before every git commit (pre-commit, .pre-commit-config.yaml)
	$(VENV)/bin/pre-commit install

.PHONY: format
format: $(TOOLS) ## Fix what ruff can fix, format the Python code, then show what is left to fix by hand
	$(VENV)/bin/ruff check --fix --exit-zero --silent .
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check .

.PHONY: lock
lock: $(TOOLS) ## Re-resolve requirements/*.in into hash-locked requirements/*.txt (uv)
	cd requirements && for name in production development build; do \
	  ../$(VENV)/bin/uv pip compile --quiet --generate-hashes --no-header --annotation-style line \
	    --python-version $(PYTHON_VERSION) --python-platform x86_64-manylinux_2_28 $$name.in -o $$name.txt; done
	cd requirements && ../$(VENV)/bin/uv pip compile --quiet --generate-hashes --no-header \
	  --annotation-style line --python-version $(HOST_PYTHON) tools.in -o tools.txt

.PHONY: bench
bench: $(TOOLS) ## Every figure vs its goal, one table: size, builds, prod-up, load vs a seed-style baseline (BENCH_QUICK=1: smoke test)
	$(VENV)/bin/python tests/bench/bench.py

$(TOOLS): requirements/tools.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --require-hashes -r requirements/tools.txt
	touch $@

## ---- production ------------------------------------------------------------

.PHONY: prod-build
prod-build: ## Build the production image (IMAGE:TAG from .env, default babyshop:latest)
	$(PROD) build web

.PHONY: secrets
secrets: ## Create the production secrets in ./secrets (random, owner-only; never overwrites; MEDIA_STORAGE=s3: asks for the bucket's key)
	scripts/make-secrets.sh

.PHONY: prod-up
prod-up: ## Start the production stack from .env (ENV_FILE): check, migrate, then wait until healthy
	scripts/prod-up.sh

.PHONY: prod-db-roles
prod-db-roles: ## Once, for a database volume from before web's own role: web's role loses its superuser rights
	scripts/db-roles.sh

.PHONY: prod-down
prod-down: ## Stop the production stack (volumes are kept)
	$(PROD) down --remove-orphans

.PHONY: prod-destroy
prod-destroy: ## Delete the production stack WITH its database, uploads and certificates (CONFIRM=yes)
	@if [ "$(CONFIRM)" != yes ]; then \
	  echo "prod-destroy deletes the database, the uploaded media and the certificates for good." >&2; \
	  echo "To go ahead: make prod-destroy CONFIRM=yes" >&2; exit 1; fi
	$(PROD) down --volumes --remove-orphans

.PHONY: prod-superuser
prod-superuser: ## Create an admin in production: asks on a terminal, else reads DJANGO_SUPERUSER_USERNAME, _EMAIL, _PASSWORD from the environment
	@if [ -n "$${DJANGO_SUPERUSER_PASSWORD:-}" ]; then \
	  $(PROD) exec -T -e DJANGO_SUPERUSER_USERNAME -e DJANGO_SUPERUSER_EMAIL -e DJANGO_SUPERUSER_PASSWORD \
	    web python manage.py createsuperuser --noinput; \
	elif [ -t 0 ]; then \
	  $(PROD) exec web python manage.py createsuperuser; \
	else \
	  echo "prod-superuser: no terminal to ask on: set DJANGO_SUPERUSER_USERNAME, DJANGO_SUPERUSER_EMAIL and DJANGO_SUPERUSER_PASSWORD in the environment" >&2; \
	  exit 2; \
	fi

.PHONY: prod-logs
prod-logs: ## Follow the production stack's logs
	$(PROD) logs -f

.PHONY: prod-manage
prod-manage: ## Run a manage.py command in the production web container: make prod-manage ARGS=createsuperuser
	$(PROD) exec web python manage.py $(ARGS)

## ---- swarm: several machines ------------------------------------------------
# The stack on the swarm (its services are $(STACK_NAME)_web, ...) and the
# compose files given to docker stack deploy, in order (by default those of
# the VM, then docker-compose.swarm.yml).
STACK_NAME ?= babyshop
SWARM_FILES ?=

.PHONY: swarm-deploy
swarm-deploy: ## Deploy REGISTRY/IMAGE:TAG to the swarm this Docker client manages: one web task at a time, rolled back on failure
	STACK_NAME=$(call quote,$(STACK_NAME)) SWARM_FILES=$(call quote,$(SWARM_FILES)) \
	  DEPLOY_IMAGE=$(call quote,$(REGISTRY)/$(IMAGE)) DEPLOY_TAG=$(call quote,$(TAG)) scripts/swarm-deploy.sh

.PHONY: swarm-rollback
swarm-rollback: ## Deploy an image pushed earlier to the swarm: make swarm-rollback TAG=<earlier git sha>
	@if [ "$(origin TAG)" != "command line" ]; then \
	  echo "swarm-rollback: name the image to go back to, e.g. make swarm-rollback TAG=1a2b3c4" >&2; exit 1; fi
	$(MAKE) --no-print-directory swarm-deploy TAG=$(TAG)

.PHONY: swarm-status
swarm-status: ## The swarm stack's services, and on which node each task runs
	docker stack services $(call quote,$(STACK_NAME))
	docker stack ps --filter desired-state=running $(call quote,$(STACK_NAME))

.PHONY: swarm-down
swarm-down: ## Remove the swarm stack (volumes, the database's included, stay on their nodes)
	docker stack rm --detach=false $(call quote,$(STACK_NAME))

## ---- operations ------------------------------------------------------------

.PHONY: push
# The source label is origin's URL without its user and password (a token in
# https://user:token@host/... must not travel with the image).
push: ## Build the production image with OCI labels, push it as :<git sha> and :latest to REGISTRY
	@if [ -n "$$(git status --porcelain)" ] && [ "$(FORCE)" != yes ]; then \
	  echo "push: the working tree has uncommitted changes, so the image would not match any commit." >&2; \
	  echo "Commit them first, or push anyway with: make push FORCE=yes" >&2; exit 1; fi
	docker build --target production \
	  --label org.opencontainers.image.title=babyshop \
	  --label org.opencontainers.image.source="$$(git remote get-url origin 2>/dev/null | sed -E 's#^([a-z][a-z0-9+.-]*://)[^/]*@#\1#' || pwd)" \
	  --label org.opencontainers.image.revision="$$(git rev-parse HEAD)" \
	  --build-arg REVISION="$$(git rev-parse HEAD)" \
	  --label org.opencontainers.image.version="$$(git describe --tags --always --dirty)" \
	  --label org.opencontainers.image.created="$$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
	  --tag $(REGISTRY)/$(IMAGE):$(GIT_SHA) --tag $(REGISTRY)/$(IMAGE):latest .
	docker push $(REGISTRY)/$(IMAGE):$(GIT_SHA)
	docker push $(REGISTRY)/$(IMAGE):latest

# $(call quote,VALUE): VALUE as one single-quoted shell word, so that a path
# with spaces or quotes reaches the script intact.
quote = '$(subst ','\'',$(1))'

.PHONY: deploy
deploy: ## Deploy REGISTRY/IMAGE:TAG (default: this commit) to DEPLOY_HOST=user@host over SSH; the VM only pulls
	DEPLOY_HOST=$(call quote,$(DEPLOY_HOST)) DEPLOY_PATH=$(call quote,$(DEPLOY_PATH)) \
	  DEPLOY_IMAGE=$(call quote,$(REGISTRY)/$(IMAGE)) DEPLOY_TAG=$(call quote,$(TAG)) scripts/deploy.sh

.PHONY: rollback
rollback: ## Redeploy an image pushed earlier: make rollback TAG=<earlier git sha> DEPLOY_HOST=user@host
	@if [ "$(origin TAG)" != "command line" ]; then \
	  echo "rollback: name the image to go back to, e.g. make rollback TAG=1a2b3c4 DEPLOY_HOST=$(or $(DEPLOY_HOST),user@host)" >&2; exit 1; fi
	$(MAKE) --no-print-directory deploy TAG=$(TAG)

.PHONY: backup
backup: ## Back up the production database and media to ./backups/<UTC time> with checksums (BACKUP_DIR, BACKUP_KEEP)
	scripts/backup.sh

.PHONY: restore
restore: ## Restore a backup into the running production stack, keeping what it replaces: make restore BACKUP=backups/<time> CONFIRM=yes
	BACKUP=$(call quote,$(BACKUP)) CONFIRM=$(call quote,$(CONFIRM)) scripts/restore.sh

.PHONY: restore-undo
restore-undo: ## Swap the data the last restore replaced back in (what it replaces is kept in turn)
	scripts/restore.sh undo

.PHONY: restore-cleanup
restore-cleanup: ## Delete the database and media the last restore (or undo) replaced and kept
	scripts/restore.sh cleanup

.PHONY: clean
clean: ## Remove the dev stack, its volumes and images, and local caches
	$(DEV) --profile cache --profile object-storage down --volumes --remove-orphans
	docker image ls --quiet --filter label=com.docker.compose.project=$(DEV_PROJECT) | xargs -r docker image rm --force
	rm -rf $(VENV) .ruff_cache babyshop_app/.pytest_cache babyshop_app/staticfiles
