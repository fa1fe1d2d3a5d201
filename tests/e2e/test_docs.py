"""Every setting the code reads is documented in .env.example; every make
target in docs/make.md; every link between the README and docs/ leads to a
page and a heading that exist."""

import re

from conftest import ROOT, run

SOURCES = {
    "babyshop_app/babyshop/settings.py": r'config\.\w+\(\s*"([A-Z][A-Z0-9_]+)"',
    # Those its readers name themselves (MEDIA_STORAGE=s3's).
    "babyshop_app/babyshop/config.py": r'"(S3_[A-Z0-9_]+)"',
    "Caddyfile": r"\{\$([A-Z][A-Z0-9_]+)",
    "scripts/backup.sh": r"\$\(setting ([A-Z][A-Z0-9_]+)",
    "docker-compose.yml": r"\$\{([A-Z][A-Z0-9_]+)",
    "docker-compose.prod.yml": r"\$\{([A-Z][A-Z0-9_]+)",
    "docker-compose.cache.yml": r"\$\{([A-Z][A-Z0-9_]+)",
    "docker-compose.swarm.yml": r"\$\{([A-Z][A-Z0-9_]+)",
    "docker-compose.monitoring.yml": r"\$\{([A-Z][A-Z0-9_]+)",
    "docker-compose.s3.yml": r"\$\{([A-Z][A-Z0-9_]+)",
    "scripts/lib.sh": r"\$\(setting ([A-Z][A-Z0-9_]+)",
    "scripts/swarm-deploy.sh": r"\$\(setting ([A-Z][A-Z0-9_]+)",
}
# Set by scripts/swarm-deploy.sh for the swarm file, and by scripts/lib.sh
# for Alertmanager from the SMTP settings, not by the user.
DERIVED = {
    "CADDYFILE_DIGEST", "DB_INIT_DIGEST", "STACK_NAME",
    "ALERT_SMTP_SMARTHOST", "ALERT_SMTP_REQUIRE_TLS", "ALERT_EMAIL_FROM",
}  # fmt: skip


def test_env_example_documents_every_variable():
    example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", example, re.MULTILINE))
    used = {
        name for path, pattern in SOURCES.items() for name in re.findall(pattern, (ROOT / path).read_text())
    }
    assert used, "the patterns still find the variables"
    assert sorted(used - documented - DERIVED) == []
    # Each variable (or group of related ones) sits under its comment line.
    lines = example.splitlines()
    setting = re.compile(r"^#? ?[A-Z][A-Z0-9_]+=")
    for number, line in enumerate(lines):
        if setting.match(line):
            above = number - 1
            while setting.match(lines[above]):
                above -= 1
            assert lines[above].startswith("# "), f"{line!r} has no comment line above it"


def test_the_manual_lists_every_make_target():
    """docs/make.md's table of make targets, against the Makefile's `##` lines
    (what `make help` prints)."""
    targets = set(re.findall(r"^([a-zA-Z0-9_-]+):.*## ", (ROOT / "Makefile").read_text(), re.MULTILINE))
    listed = set(re.findall(r"^\| `make ([a-zA-Z0-9_-]+)", (ROOT / "docs/make.md").read_text(), re.MULTILINE))
    assert targets, "the pattern still finds the targets"
    assert sorted(targets - listed) == [], "targets missing from docs/make.md"
    assert sorted(listed - targets) == [], "docs/make.md rows for targets that do not exist"


def anchor(heading):
    """GitHub's anchor for a markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_links_between_pages_lead_somewhere():
    pages = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]
    anchors = {
        page.resolve(): {anchor(h) for h in re.findall(r"^#+ (.+)$", page.read_text(), re.MULTILINE)}
        for page in pages
    }
    broken = []
    for page in pages:
        text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue  # another site
            path, _, fragment = target.partition("#")
            linked = (page.parent / path).resolve() if path else page.resolve()
            if not linked.exists():
                broken.append(f"{page.name}: {target} (no such file)")
            elif fragment and linked.suffix == ".md" and fragment not in anchors[linked]:
                broken.append(f"{page.name}: {target} (no such heading)")
    assert broken == []


def test_the_readme_is_short():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 150


WRITTEN_THERE = ("Dockerfile", "README.md", "CHANGELOG.md", "docs/performance.md", "scripts/base-image.sh")


def test_the_python_version_is_written_once():
    """In the Dockerfile's base image line; everything else reads it from
    there (scripts/base-image.sh). The README may name it, and so may the
    measured records (the changelog, the bench's table); the host tools'
    floor (HOST_PYTHON) is another version on purpose."""
    base = run(str(ROOT / "scripts" / "base-image.sh")).stdout.strip()
    version = re.fullmatch(r"python:(\d+\.\d+)-slim", base).group(1)
    written = re.compile(rf"python:?{re.escape(version)}\b|python-version {re.escape(version)}\b")
    listed = run("git", "-C", str(ROOT), "ls-files", "--cached", "--others", "--exclude-standard").stdout
    found = [
        name
        for name in listed.split()
        if name not in WRITTEN_THERE
        and (ROOT / name).is_file()
        and not name.endswith(".png")
        and written.search((ROOT / name).read_text())
    ]
    assert found == []
