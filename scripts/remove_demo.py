#!/usr/bin/env python3
"""make remove-demo: take the demo catalog out of the project, in one step.

The demo is the products app (its models, views, templates, static files,
seed command, tests and part of make bench), its stack tests
(tests/e2e/demo/), its screenshot and the pictures its seed command put in
the dev stack's media folder (not in git), plus every line elsewhere that wires it in: those stand between
two comment lines of their own, `demo: start` and `demo: end`, in the
comment syntax of their file (#, {# #}, <!-- -->, /* */). This deletes the
paths and those regions, nothing else: the core's own home page then
answers /.

Refuses a tree with uncommitted changes (so that `git diff` shows the removal
alone and `git reset --hard` undoes it); run again, it changes nothing. The
database tables of the demo stay in a database that has them: run
`make manage ARGS="migrate products zero"` first to drop them.
"""

import re
import shutil
from pathlib import Path

from gitrepo import ROOT, fail, git

MARKER = re.compile(r"^\s*(?:#|//|\{#|<!--|/\*)\s*demo: (start|end)\s*(?:#\}|-->|\*/)?\s*$")


def demo_paths():
    apps = sorted(ROOT.glob("*_app/products"))
    return [*apps, ROOT / "tests" / "e2e" / "demo", ROOT / "docs" / "home.png"]


def demo_uploads():
    """The demo's pictures in the dev stack's media folder (a bind mount git ignores)."""
    return sorted(ROOT.glob("*_app/media/products"))


def without_regions(name, text):
    """The text without its demo regions, and how many lines went."""
    kept, inside, removed = [], None, 0
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        marker = MARKER.match(line)
        if marker and marker.group(1) == "start":
            if inside:
                fail(f"{name}:{number}: a demo region starts inside the one started on line {inside}")
            inside = number
        elif marker:
            if not inside:
                fail(f"{name}:{number}: a demo region ends that never started")
            inside = None
            removed += 1
            continue
        if inside:
            removed += 1
        else:
            kept.append(line)
    if inside:
        fail(f"{name}:{inside}: a demo region starts and never ends")
    return "".join(kept), removed


def main():
    edits = {}
    for name in git("ls-files", "-z").stdout.split("\0"):
        path = ROOT / name
        if not name or not path.is_file() or path.is_symlink() or path == Path(__file__).resolve():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # pictures and other binary files
        kept, removed = without_regions(name, text)
        if removed:
            edits[path] = (kept, removed)
    paths = [path for path in demo_paths() if path.exists()]
    uploads = demo_uploads()
    if not edits and not paths and not uploads:
        print("remove-demo: the demo is not here: nothing to change")
        return
    if git("status", "--porcelain").stdout:
        fail("the working tree has uncommitted changes: commit or stash them, so the removal stands alone")
    # Every region was checked before anything is written.
    for path, (kept, removed) in sorted(edits.items()):
        path.write_text(kept, encoding="utf-8")
        print(f"  {path.relative_to(ROOT)}: {removed} lines")
    for path in paths:
        git("rm", "-r", "--quiet", str(path.relative_to(ROOT)))
        print(f"  removed {path.relative_to(ROOT)}")
    for path in uploads:
        shutil.rmtree(path)
        print(f"  removed {path.relative_to(ROOT)} (not in git)")
    lines = sum(removed for _, removed in edits.values())
    print(f"remove-demo: {len(paths)} paths and {lines} lines in {len(edits)} files.")
    print("Review with `git status`, then run `make test` and commit. Undo: git reset --hard.")


if __name__ == "__main__":
    main()
