"""Operations that guard data and secrets, checked without a running stack."""

import os
import stat
import subprocess

from conftest import ROOT, run


def test_make_secrets_creates_private_files_once(tmp_path):
    secrets_dir = tmp_path / "secrets"
    env = {**os.environ, "SECRETS_DIR": str(secrets_dir)}
    first = run(str(ROOT / "scripts" / "make-secrets.sh"), env=env).stdout
    assert first.split("\n")[:2] == ["secrets: created secret_key", "secrets: created postgres_password"]
    assert stat.S_IMODE(secrets_dir.stat().st_mode) == 0o700
    expected = {"secret_key": (0o600, 10001, 10001), "postgres_password": (0o640, 10001, 999)}
    values = {}
    for name, (mode, uid, gid) in expected.items():
        info = (secrets_dir / name).stat()
        assert (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == (mode, uid, gid), name
        values[name] = (secrets_dir / name).read_text().strip()
        assert len(values[name]) >= 50
    assert values["secret_key"] != values["postgres_password"]
    second = run(str(ROOT / "scripts" / "make-secrets.sh"), env=env).stdout
    assert "exists, kept" in second
    assert {name: (secrets_dir / name).read_text().strip() for name in expected} == values


def test_secrets_and_env_are_never_committed():
    ignored = (ROOT / ".gitignore").read_text().split()
    assert {"secrets/", ".env"} <= set(ignored)


def test_prod_destroy_demands_confirmation():
    result = subprocess.run(
        ["make", "prod-destroy"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode != 0
    assert "To go ahead: make prod-destroy CONFIRM=yes" in result.stderr
    assert "down" not in result.stdout


def test_prod_down_keeps_the_volumes():
    recipe = subprocess.run(
        ["make", "--dry-run", "prod-down", "ENV_FILE=/dev/null"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "down" in recipe
    assert "--volumes" not in recipe
    assert "-v" not in recipe.split()
