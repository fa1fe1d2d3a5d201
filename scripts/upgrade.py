#!/usr/bin/env python3
"""make upgrade BLUEPRINT=<url or path> [BLUEPRINT_REF=main]: take the
blueprint's later commits into a project made from it.

A project renames the blueprint (make rename) and may take its demo out
(make remove-demo); a plain `git merge` of the blueprint would then
conflict on every line those touched. Both are deterministic, so this does
them to the blueprint first:

  1. fetch BLUEPRINT_REF; the last blueprint commit this project took is
     its merge base with it (the clone's own history at first);
  2. in a scratch worktree, that commit and the new one are each renamed to
     this project's name (with their own scripts/rename.py), and their demo
     taken out if this project's is;
  3. the project is merged three-way, from the first to the second: only the
     blueprint's real changes arrive, and only where the project changed the
     same lines is there a conflict to resolve;
  4. the merge is committed with the blueprint's commit as its second
     parent, so the next upgrade starts from there. After a conflict, git
     status shows it; resolve it and `git commit` finishes the merge.

Refuses a tree with uncommitted changes.
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from gitrepo import ROOT, fail, git

# The scratch commits' author: they are never part of the project's history.
SCRATCH_AUTHOR = {
    "GIT_AUTHOR_NAME": "upgrade",
    "GIT_AUTHOR_EMAIL": "upgrade@localhost",
    "GIT_COMMITTER_NAME": "upgrade",
    "GIT_COMMITTER_EMAIL": "upgrade@localhost",
}


def project_name(tree):
    packages = sorted(Path(tree).glob("*_app/*/settings.py"))
    if len(packages) != 1:
        fail(f"cannot tell the project's package in {tree}: expected one *_app/<name>/settings.py")
    return packages[0].parent.name


def as_this_project(commit, scratch, name, without_demo):
    """A commit whose tree is `commit`'s, renamed to name (and without its demo)."""
    git("checkout", "--quiet", "--detach", commit, cwd=scratch)
    # This Python (make's tools'): rename formats what it renamed with its ruff.
    steps = []
    if project_name(scratch) != name:
        steps.append([sys.executable, "scripts/rename.py", "--no-image-check", name])
    if without_demo:
        steps.append([sys.executable, "scripts/remove_demo.py"])
    for step in steps:
        done = subprocess.run(step, cwd=scratch, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            fail(f"{' '.join(step[1:])} on the blueprint's {commit[:12]} failed: {done.stderr.strip()}")
        git("add", "--all", cwd=scratch)
        author = {**os.environ, **SCRATCH_AUTHOR}
        git("commit", "--quiet", "--no-verify", "-m", " ".join(step[1:]), cwd=scratch, env=author)
    return git("rev-parse", "HEAD", cwd=scratch).stdout.strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("blueprint", help="the blueprint's repository: a URL or a path")
    parser.add_argument("ref", nargs="?", default="main", help="its branch or tag (default: main)")
    args = parser.parse_args()
    if not args.blueprint:
        fail("BLUEPRINT is not set: expected the blueprint's repository, e.g. make upgrade BLUEPRINT=<url>")
    if git("status", "--porcelain").stdout:
        fail("the working tree has uncommitted changes: commit or stash them first")

    fetched = git("fetch", "--quiet", "--no-tags", args.blueprint, args.ref, check=False)
    if fetched.returncode != 0:
        fail(f"cannot fetch {args.ref} from {args.blueprint}: {fetched.stderr.strip()}")
    new = git("rev-parse", "FETCH_HEAD").stdout.strip()
    base = git("merge-base", "HEAD", new, check=False).stdout.strip()
    if not base:
        fail(f"{args.blueprint} {args.ref} shares no history with this project: expected its blueprint")
    if base == new:
        print(f"upgrade: the blueprint's {args.ref} ({new[:12]}) is in this project already: nothing to take")
        return

    name = project_name(ROOT)
    without_demo = not any(ROOT.glob("*_app/products"))
    with tempfile.TemporaryDirectory(prefix="upgrade-") as scratch:
        git("worktree", "add", "--quiet", "--detach", scratch, base)
        try:
            old_tree = as_this_project(base, scratch, name, without_demo)
            new_tree = as_this_project(new, scratch, name, without_demo)
        finally:
            git("worktree", "remove", "--force", scratch, check=False)
        merged = git("merge-recursive", old_tree, "--", "HEAD", new_tree, check=False)
    # A merge in progress, whose second parent is the blueprint's own commit.
    Path(git("rev-parse", "--git-path", "MERGE_HEAD").stdout.strip()).write_text(new + "\n")
    message = f"Take the blueprint's {args.ref} ({new[:12]})\n"
    Path(git("rev-parse", "--git-path", "MERGE_MSG").stdout.strip()).write_text(message)
    if merged.returncode != 0:
        conflicts = git("diff", "--name-only", "--diff-filter=U").stdout.split()
        print(merged.stdout.strip())
        fail(
            f"{len(conflicts)} files conflict with your changes ({', '.join(conflicts)}): resolve them, "
            "then git add and git commit (git merge --abort gives up)"
        )
    git("commit", "--quiet", "--no-edit", "--no-verify")
    changed = git("diff", "--stat", "HEAD^1", "HEAD").stdout.strip().splitlines()
    summary = changed[-1].strip() if changed else "no change"
    print(f"upgrade: took the blueprint's {args.ref} ({new[:12]}) as {name}: {summary}")


if __name__ == "__main__":
    main()
