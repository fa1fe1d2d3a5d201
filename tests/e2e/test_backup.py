"""make backup / make restore: a backup that provably restores."""

import shutil
import time

import pytest

from conftest import Stack, make, png

PRODUCTS_DIGEST = (
    "SELECT md5(string_agg(concat_ws('|', p.id, p.name, p.slug, p.description, p.price, p.image,"
    " p.is_active, p.created_at, c.slug), ',' ORDER BY p.id))"
    " FROM products_product p JOIN products_category c ON c.id = p.category_id"
)
MEDIA_DIGEST = "cd /app/media && find . -type f | sort | xargs sha256sum"


@pytest.fixture
def vault(image, tmp_path):
    stack = Stack(tmp_path, "vault", SEED_DEMO="true")
    try:
        yield stack
    finally:
        stack.down()


def test_backup_then_restore_into_empty_volumes(vault, tmp_path, figures):
    operate = {"ENV_FILE": str(vault.env_file), "COMPOSE_PROJECT_NAME": vault.project}
    backups = tmp_path / "backups"
    make("prod-up", env=operate)
    vault.wait_for_proxy()
    vault.trust_proxy_ca()
    vault.login_admin()
    picture = png(32, 32, (120, 180, 240))
    src = vault.upload_product("backed-up-bib", picture)
    products = vault.psql(PRODUCTS_DIGEST)
    media = vault.exec("web", "sh", "-c", MEDIA_DIGEST).stdout
    assert "backed-up-bib" in media

    started = time.monotonic()
    make("backup", env={**operate, "BACKUP_DIR": str(backups)})
    backup_seconds = time.monotonic() - started
    (backup,) = backups.iterdir()
    assert sorted(p.name for p in backup.iterdir()) == [
        "SHA256SUMS",
        "contents.txt",
        "database.dump",
        "media.tar",
    ]
    assert (backup / "contents.txt").read_text().strip() == "products=25 categories=4"

    # Lose everything: containers and volumes; then an empty stack.
    make("prod-destroy", "CONFIRM=yes", env=operate)
    vault.env_file.write_text(vault.env_file.read_text().replace("SEED_DEMO=true", "SEED_DEMO=false"))
    make("prod-up", env=operate)
    assert vault.psql("SELECT count(*) FROM products_product") == "0"

    refused = make("restore", f"BACKUP={backup}", env=operate, check=False)
    assert refused.returncode != 0
    assert f"To go ahead: make restore BACKUP={backup} CONFIRM=yes" in refused.stderr
    damaged = tmp_path / "damaged"
    shutil.copytree(backup, damaged)
    with (damaged / "media.tar").open("ab") as tar:
        tar.write(b"\0")
    refused = make("restore", f"BACKUP={damaged}", "CONFIRM=yes", env=operate, check=False)
    assert refused.returncode != 0
    assert "fails its checksums: refusing to restore it" in refused.stderr

    started = time.monotonic()
    make("restore", f"BACKUP={backup}", "CONFIRM=yes", env=operate)
    restore_seconds = time.monotonic() - started
    assert vault.psql(PRODUCTS_DIGEST) == products
    assert vault.exec("web", "sh", "-c", MEDIA_DIGEST).stdout == media
    vault.wait_for_proxy()
    vault.trust_proxy_ca()
    page = vault.get("/products/backed-up-bib/")
    assert page.status_code == 200
    assert vault.get(src).content == picture
    figures.append(
        f"backup of the seeded shop + 1 upload: {backup_seconds:.1f}s "
        f"({sum(p.stat().st_size for p in backup.iterdir()) / 1e6:.2f} MB); restore: {restore_seconds:.1f}s"
    )


def test_backup_keeps_the_newest_backup_keep(vault, tmp_path):
    operate = {"ENV_FILE": str(vault.env_file), "COMPOSE_PROJECT_NAME": vault.project}
    vault.up()
    backups = tmp_path / "backups"
    for _ in range(3):
        make("backup", env={**operate, "BACKUP_DIR": str(backups), "BACKUP_KEEP": "2"})
        time.sleep(1.1)  # backups are named by the second
    names = sorted(p.name for p in backups.iterdir())
    assert len(names) == 2
