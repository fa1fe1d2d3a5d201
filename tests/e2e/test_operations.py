"""Operations that guard data and secrets, checked without a running stack."""

import os
import stat
import subprocess

from conftest import ROOT, run


def test_make_secrets_creates_private_files_once(tmp_path):
    secrets_dir = tmp_path / "secrets"
    env = {**os.environ, "SECRETS_DIR": str(secrets_dir)}
    first = run(str(ROOT / "scripts" / "make-secrets.sh"), env=env).stdout
    assert first.split("\n")[:4] == [
        "secrets: created secret_key",
        "secrets: created postgres_password",
        "secrets: created cache_password",
        "secrets: created smtp_password, blank: put your SMTP password in it if SMTP_USER is set",
    ]
    assert stat.S_IMODE(secrets_dir.stat().st_mode) == 0o700
    expected = {
        "secret_key": (0o600, 10001, 10001),
        "postgres_password": (0o640, 10001, 999),
        "cache_password": (0o640, 10001, 10001),
    }
    values = {}
    for name, (mode, uid, gid) in expected.items():
        info = (secrets_dir / name).stat()
        assert (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == (mode, uid, gid), name
        values[name] = (secrets_dir / name).read_text().strip()
        assert len(values[name]) >= 50
    assert len(set(values.values())) == 3
    # Yours to fill in, readable by the worker (the app user) and Alertmanager (nobody's group).
    smtp = (secrets_dir / "smtp_password").stat()
    assert (stat.S_IMODE(smtp.st_mode), smtp.st_uid, smtp.st_gid) == (0o640, 10001, 65534)
    assert (secrets_dir / "smtp_password").read_text() == "\n", (
        "blank, yet not empty (a Swarm secret cannot be)"
    )
    second = run(str(ROOT / "scripts" / "make-secrets.sh"), env=env).stdout
    assert "exists, kept" in second
    assert {name: (secrets_dir / name).read_text().strip() for name in expected} == values


def test_make_secrets_writes_where_the_env_file_says(tmp_path):
    """Before: make secrets wrote to ./secrets whatever SECRETS_DIR the env
    file (the one the stack reads) named."""
    vault = tmp_path / "vault"
    env_file = tmp_path / "prod.env"
    env_file.write_text(f"SITE_DOMAIN=localhost\nSECRETS_DIR='{vault}'\n")
    env = {name: value for name, value in os.environ.items() if name != "SECRETS_DIR"}
    default_dir_before = (ROOT / "secrets").exists()
    made = run("make", "--no-print-directory", "secrets", f"ENV_FILE={env_file}", cwd=ROOT, env=env)
    assert "secrets: created secret_key" in made.stdout
    assert sorted(p.name for p in vault.iterdir()) == [
        "cache_password",
        "postgres_password",
        "secret_key",
        "smtp_password",
    ]
    assert (ROOT / "secrets").exists() == default_dir_before, "nothing was written to ./secrets"


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
