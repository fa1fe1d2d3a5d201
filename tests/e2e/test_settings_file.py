"""The scripts read the env file as Compose does (scripts/lib.sh asks
`docker compose config --environment`): inline comments, quotes and ${...}
mean what they mean to the stack itself."""

import os

from conftest import ROOT, run


def script(name, env_file, check=False):
    env = {key: value for key, value in os.environ.items() if key not in ("BACKUP_KEEP", "SECRETS_DIR")}
    return run(str(ROOT / "scripts" / name), env={**env, "ENV_FILE": str(env_file)}, check=check)


def test_inline_comments_and_quotes_are_read_as_compose_reads_them(tmp_path):
    secrets = tmp_path / "the secrets"
    env_file = tmp_path / "settings.env"
    env_file.write_text(
        "BACKUP_KEEP=3  # three nights\n"
        f'SECRETS_DIR="{secrets}"  # quoted: the space is part of it, the comment is not\n'
        "COMPOSE_PROJECT_NAME='babyshop-settings-test'\n"
    )
    script("make-secrets.sh", env_file, check=True)
    created = sorted(path.name for path in secrets.iterdir())
    assert created == ["cache_password", "postgres_password", "secret_key", "smtp_password"]
    # BACKUP_KEEP is 3, not "3  # three nights": the backup gets as far as
    # the stack, which is not running.
    result = script("backup.sh", env_file)
    assert result.returncode == 2
    stopped = "backup: the db service is not running: start the stack first (make prod-up)"
    assert result.stderr.strip() == stopped


def test_an_env_file_compose_cannot_read_is_one_line(tmp_path):
    env_file = tmp_path / "broken.env"
    env_file.write_text('SITE_DOMAIN="shop.example.com\n')
    result = script("backup.sh", env_file)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"backup: cannot read the settings in {env_file} as Compose does: ")
    assert "unterminated quoted value" in line
