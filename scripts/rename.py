#!/usr/bin/env python3
"""make rename NAME=acme_store: give the project your name, in one step.

The name is the Django project package's (a lower-case Python identifier).
Every name derived from the project follows it, in every tracked text file
and in the paths:

  NAME        the package (NAME_app/NAME/), its imports and settings module,
              the database name and user, page titles, prose
  NAME-SLUG   (underscores as dashes) where a host name or an image name may
              stand: Compose project names, image names, the deploy path
              /srv/NAME-SLUG, the backup timer's systemd units
  CamelName   the package's AppConfig class

The migration lock id is computed from the package's name, so it follows by
itself. The CHANGELOG keeps the names its entries were written with. The
Python files it changes are formatted again (a longer or shorter name wraps
lines differently), so `make lint` stays green. Refuses a tree with
uncommitted changes (so that `git diff` shows the rename alone and
`git reset --hard` undoes it), prints what it changed, and is safe to run
twice: the same name again changes nothing.

The dev stack (make's DEV_PROJECT) is removed with its database, whose user
and database name are the old name's and would refuse the new settings: a
dev database holds nothing to keep, and the next `make up` or `make test`
makes a new one.

The name must not clash with a module the app can import (the standard
library, an installed package, one of the project's own): run through make,
the dev image says which modules it has.
"""

import argparse
import importlib.util
import keyword
import os
import re
import subprocess
import sys

from gitrepo import ROOT, fail, git

IDENTIFIER = re.compile(r"[a-z][a-z0-9_]*")
# Names the project itself uses at the top of the app directory or sys.path.
OWN = {
    # demo: start
    "products",
    # demo: end
    "users",
    "tests",
    "templates",
    "static",
    "staticfiles",
    "media",
    "manage",
    "gunicorn",
    "conftest",
}
# History: what the project was called when each entry was written.
UNCHANGED = {"CHANGELOG.md"}


def current_name():
    packages = sorted(ROOT.glob("*_app/*/settings.py"))
    if len(packages) != 1:
        fail("cannot tell the project's name: expected exactly one <name>_app/<name>/settings.py")
    package = packages[0].parent
    if package.parent.name != f"{package.name}_app":
        fail(f"{package.relative_to(ROOT)} is not inside {package.name}_app/: rename it by hand first")
    return package.name


def check(name, installed):
    """Stop unless name is a usable project name; installed() lists the
    modules the app can import (asked only when the rest is fine)."""
    if not IDENTIFIER.fullmatch(name) or len(name) > 40:
        fail(
            f"NAME={name!r} is not valid: expected a lower-case Python identifier of at most 40 "
            "characters, starting with a letter (letters, digits, underscores), e.g. acme_store"
        )
    if name.endswith("_") or "__" in name:
        fail(f"NAME={name!r} is not valid: no trailing or doubled underscores")
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        fail(f"NAME={name!r} is a Python keyword: choose another name")
    if name in sys.stdlib_module_names:
        fail(f"NAME={name!r} is already a module of the standard library: choose a name nothing else imports")
    if name in OWN:
        fail(f"NAME={name!r} is already a module of this project: choose a name nothing else imports")
    if name in installed():
        fail(f"NAME={name!r} is already a module of an installed package: choose a name nothing else imports")


def forms(name):
    slug = name.replace("_", "-")
    camel = "".join(part.capitalize() for part in name.split("_"))
    return name, slug, camel


def replacer(old, new):
    """A function turning text that names the project `old` into text naming it `new`."""
    (old_name, old_slug, old_camel), (new_name, new_slug, new_camel) = forms(old), forms(new)
    edge = "(?<![A-Za-z0-9])"  # not inside a longer word (an underscore may follow: NAME_app)
    end = "(?![A-Za-z0-9])"
    rules = [
        (re.compile(rf"{edge}{re.escape(old_camel)}(?=Config\b)"), new_camel),
        # Host and image names: before a dash or an image tag, after /srv/,
        # and as Compose's project name or an image's name.
        (re.compile(rf"{edge}{re.escape(old_slug)}(?=-[a-z]|:latest)"), new_slug),
        (re.compile(rf"(?<=/srv/){re.escape(old_slug)}{end}"), new_slug),
        (re.compile(rf"(?m)^name: {re.escape(old_slug)}$"), f"name: {new_slug}"),
        (
            re.compile(rf"(IMAGE \?= |IMAGE=|IMAGE:-|image\.title=|image: ){re.escape(old_slug)}{end}"),
            rf"\g<1>{new_slug}",
        ),
        (re.compile(rf"{edge}{re.escape(old_name)}{end}"), new_name),
    ]

    def replace(text):
        count = 0
        for pattern, replacement in rules:
            text, made = pattern.subn(replacement, text)
            count += made
        return text, count

    return replace


def dev_compose():
    """docker compose on the dev stack's project, as the Makefile names it
    (DEV_PROJECT, which make passes; and no .env: see there)."""
    project = os.environ.get("DEV_PROJECT") or re.search(
        r"^name: *(\S+)", (ROOT / "docker-compose.yml").read_text(), re.MULTILINE
    ).group(1)
    return project, ["docker", "compose", "--project-name", project, "--env-file", os.devnull]


def installed_modules():
    """The top-level modules the dev image can import."""
    _, compose = dev_compose()
    command = [
        *compose,
        "-f",
        "docker-compose.yml",
        "run",
        "--rm",
        "--no-deps",
        "-T",
        "-e",
        "MIGRATE_ON_START=false",
        "--entrypoint",
        "python",
        "web",
        "-c",
        "import pkgutil; print(' '.join(sorted({m.name for m in pkgutil.iter_modules()})))",
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        fail("cannot list the dev image's modules (docker compose run web failed): run `make build` first")
    return set(result.stdout.split())


def remove_dev_stack(old):
    """The dev stack with its database (see the module's docstring), the
    cache's and the object store's services included."""
    project, compose = dev_compose()
    profiles = ["--profile", "cache", "--profile", "object-storage"]
    down = [*compose, "-f", "docker-compose.yml", *profiles, "down", "--volumes", "--remove-orphans"]
    result = subprocess.run(down, cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        fail(f"cannot remove the dev stack {project} (docker compose down failed): {result.stderr.strip()}")
    print(
        f"rename: removed the dev stack {project} and its database (made for {old}, it would refuse "
        f"the new name; a dev database holds nothing to keep): make up or make test makes a new one."
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="the new name: a lower-case Python identifier, e.g. acme_store")
    parser.add_argument(
        "--no-image-check",
        action="store_true",
        help="the files only: neither ask the dev image for its modules nor remove the dev stack "
        "(make upgrade renames scratch copies)",
    )
    args = parser.parse_args()
    new, old = args.name, current_name()
    if new == old:
        print(f"rename: the project is already named {new}: nothing to change")
        return
    check(new, set if args.no_image_check else installed_modules)
    if git("status", "--porcelain").stdout:
        fail(
            "the working tree has uncommitted changes: commit or stash them, so that the rename stands alone"
        )
    if not importlib.util.find_spec("ruff"):
        fail(f"{sys.executable} has no ruff to format the renamed files: run it as make rename NAME={new}")
    if not args.no_image_check:
        remove_dev_stack(old)

    moves = [(f"{old}_app/{old}", f"{old}_app/{new}"), (f"{old}_app", f"{new}_app")]
    _, old_slug, _ = forms(old)
    _, new_slug, _ = forms(new)
    for unit in sorted((ROOT / "deploy" / "systemd").glob(f"{old_slug}-*")):
        moves.append(
            (str(unit.relative_to(ROOT)), str(unit.relative_to(ROOT)).replace(old_slug, new_slug, 1))
        )
    for source, target in moves:
        git("mv", source, target)

    replace = replacer(old, new)
    changed, lines = [], 0
    for name in git("ls-files", "-z").stdout.split("\0"):
        path = ROOT / name
        if not name or name in UNCHANGED or not path.is_file() or path.is_symlink():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # pictures and other binary files
        renamed, count = replace(text)
        if count:
            path.write_text(renamed, encoding="utf-8")
            changed.append((name, count))
            lines += sum(a != b for a, b in zip(text.splitlines(), renamed.splitlines(), strict=True))
    # The new name sorts the project's imports elsewhere and wraps lines
    # differently (migrations stay as Django wrote them: --force-exclude).
    python = [name for name, _ in changed if name.endswith(".py")]
    for ruff in (["check", "--fix", "--select", "I001", "--silent"], ["format", "--quiet"]):
        command = [sys.executable, "-m", "ruff", *ruff, "--force-exclude", *python]
        formatted = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        if formatted.returncode != 0:
            fail(f"ruff {ruff[0]} failed on the renamed files: {formatted.stderr.strip()}")

    for name, count in changed:
        print(f"  {name}: {count}")
    for source, target in moves:
        print(f"  moved {source} -> {target}")
    print(f"rename: {old} -> {new}: {lines} lines in {len(changed)} files, {len(moves)} paths moved.")
    print("Review with `git diff --stat`, then run `make test` and commit. Undo: git reset --hard.")


if __name__ == "__main__":
    main()
