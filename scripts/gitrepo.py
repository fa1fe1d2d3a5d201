"""What make rename, make remove-demo and make upgrade share: the checkout
they change, git in it, and how they stop."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def fail(message):
    """Stop with one line, named after the make target that ran the script."""
    sys.exit(f"{Path(sys.argv[0]).stem.replace('_', '-')}: {message}")


def git(*args, cwd=ROOT, check=True, env=None):
    """git in cwd; with check, a failure stops with git's own message."""
    command = ["git", "-C", str(cwd), *args]
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if check and result.returncode != 0:
        fail(f"git {' '.join(args)} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result
