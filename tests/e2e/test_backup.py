"""make backup / make restore: a backup that provably restores, and a restore
that changes everything or nothing."""

import os
import re
import shutil
import signal
import stat
import subprocess
import time

import pytest

from conftest import IMAGE, PROJECT, ROOT, TAG, Stack, inspect, last_line, lock_held, make, png, run

# The rows every project has: its users.
ROWS_DIGEST = (
    "SELECT md5(string_agg(concat_ws('|', id, username, email, first_name, last_name, password,"
    " is_staff, date_joined), ',' ORDER BY id)) FROM users_user"
)
# Some users to back up and restore (make prod-up seeds nothing).
SEED_USERS = (
    "from django.contrib.auth import get_user_model as m;"
    " m().objects.bulk_create(m()(username=f'member{n}', email=f'member{n}@example.com') for n in range(20))"
)
MEDIA_DIGEST = "cd /app/media && find . -type f | sort | xargs sha256sum"
# A migration the image under test does not have, as a later release would
# add it: a nullable column, and a check that refuses to migrate a database
# holding the user REFUSED (a migration that fails on old data).
NEWER_NAME = "9000_e2e_newer_schema"
NEWER_MIGRATION = """from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("users", "LEAF")]
    operations = [
        migrations.AddField("user", "e2e_note", models.TextField(null=True)),
        migrations.RunSQL(
            "DO $$ BEGIN IF EXISTS (SELECT 1 FROM users_user WHERE username = 'refuses-migration')"
            " THEN RAISE EXCEPTION 'e2e: refuses-migration cannot be migrated'; END IF; END $$",
            migrations.RunSQL.noop,
        ),
    ]
"""
REFUSED = (
    "INSERT INTO users_user (password, is_superuser, username, first_name, last_name, email, is_staff,"
    " is_active, date_joined) VALUES ('', false, 'refuses-migration', '', '', '', false, true, now())"
)
NOT_REFUSED = "DELETE FROM users_user WHERE username = 'refuses-migration'"
# The shop's one upload.
PICTURE = "/media/uploads/shop-bib.png"
APPLIED = "SELECT count(*) FROM django_migrations WHERE name = '9000_e2e_newer_schema'"


def operate(stack, **extra):
    """The environment `make` needs to act on this stack, as a user's shell has it."""
    return {"ENV_FILE": str(stack.env_file), "COMPOSE_PROJECT_NAME": stack.project, **extra}


def snapshot(stack):
    """Everything a failed restore must leave exactly as it was."""
    return {
        "rows": stack.psql(ROWS_DIGEST),
        "media": stack.exec("web", "sh", "-c", MEDIA_DIGEST).stdout,
        "media entries": stack.exec("web", "ls", "-A", "/app/media").stdout,
        "databases": stack.psql("SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database"),
    }


def web_instances(stack):
    """Each web container and when it started: changes if one was stopped or replaced."""
    return sorted(
        (container, inspect(container, "{{.State.StartedAt}}")) for container in stack.containers("web")
    )


def restore(stack, backup):
    started = time.monotonic()
    result = make("restore", f"BACKUP={backup}", "CONFIRM=yes", env=operate(stack), check=False)
    return result, time.monotonic() - started


def backup_now(stack, backups, **extra):
    """`make backup` into BACKUP_DIR=backups; the new backup's directory."""
    before = set(backups.iterdir()) if backups.exists() else set()
    make("backup", env=operate(stack, BACKUP_DIR=str(backups), **extra))
    (new,) = set(backups.iterdir()) - before
    time.sleep(1.1)  # backups are named by the second
    return new


def verified(backup):
    check = run("sha256sum", "--check", "--quiet", "--strict", "SHA256SUMS", cwd=backup, check=False)
    return check.returncode == 0


@pytest.fixture
def vault(image, tmp_path):
    with Stack(tmp_path, "vault") as stack:
        yield stack


@pytest.fixture(scope="module")
def newer_image(image, tmp_path_factory):
    """The image under test plus one migration: the next release, as far as
    the database is concerned."""
    migrations = ROOT / f"{PROJECT}_app" / "users" / "migrations"
    leaf = max(path.stem for path in migrations.glob("[0-9]*.py"))
    context = tmp_path_factory.mktemp("newer")
    (context / f"{NEWER_NAME}.py").write_text(NEWER_MIGRATION.replace("LEAF", leaf))
    (context / "Dockerfile").write_text(f"FROM {image}\nCOPY {NEWER_NAME}.py /app/users/migrations/\n")
    tag = f"{TAG}-newer"
    run("docker", "build", "--quiet", "--tag", f"{IMAGE}:{tag}", str(context))
    yield tag
    run("docker", "image", "rm", "--force", f"{IMAGE}:{tag}", check=False)


@pytest.fixture(scope="module")
def shop(image, newer_image, tmp_path_factory):
    """A shop with users and one upload, shared by the restores that must fail
    (and leave it as it was) and by the retention tests. newer_image is
    requested first so that it is removed only after this stack is down."""
    stack = Stack(tmp_path_factory.mktemp("shop"), "shop")
    try:
        stack.up()
        stack.trust_proxy_ca()
        stack.exec("web", "python", "manage.py", "shell", "-c", SEED_USERS)
        stack.place_upload(PICTURE.removeprefix("/media/"), png(16, 16, (200, 40, 40)))
        yield stack
    finally:
        stack.down()


def test_backup_then_restore_into_empty_volumes(vault, tmp_path, figures):
    """The round trip: every row and media byte comes back into empty volumes,
    and the restore leaves no staging database or directory behind."""
    operate = {"ENV_FILE": str(vault.env_file), "COMPOSE_PROJECT_NAME": vault.project}
    backups = tmp_path / "backups"
    make("prod-up", env=operate)
    vault.wait_for_proxy()
    vault.trust_proxy_ca()
    vault.exec("web", "python", "manage.py", "shell", "-c", SEED_USERS)
    picture = png(32, 32, (120, 180, 240))
    src = vault.place_upload("uploads/backed-up-bib.png", picture)
    rows = vault.psql(ROWS_DIGEST)
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
    contents = (backup / "contents.txt").read_text().splitlines()
    migrations = vault.psql("SELECT count(*) FROM django_migrations")
    assert {"users_user 20", f"django_migrations {migrations}"} <= set(contents), contents
    assert contents == sorted(contents)
    assert all(line.split(" ")[1].isdigit() for line in contents)
    assert stat.S_IMODE(backups.stat().st_mode) == 0o700, "a backup directory it creates is private"
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in [backup, *backup.iterdir()]}
    assert modes == {backup.name: 0o700, **{p.name: 0o600 for p in backup.iterdir()}}, (
        "each backup and its files are private, whatever the directory around them"
    )

    # Lose everything: containers and volumes; then an empty stack.
    make("prod-destroy", "CONFIRM=yes", env=operate)
    make("prod-up", env=operate)
    assert vault.psql("SELECT count(*) FROM users_user") == "0"
    databases = vault.psql("SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database")

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
    assert vault.psql(ROWS_DIGEST) == rows
    assert vault.exec("web", "sh", "-c", MEDIA_DIGEST).stdout == media
    # What it replaced (the empty shop) is kept until restore-cleanup.
    make("restore-cleanup", env=operate)
    assert vault.exec("web", "ls", "-A", "/app/media").stdout.split() == ["uploads"]
    assert vault.psql("SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database") == databases
    vault.wait_for_proxy()
    vault.trust_proxy_ca()
    assert vault.get(src).content == picture
    figures.append(
        f"backup of 20 users + 1 upload: {backup_seconds:.1f}s "
        f"({sum(p.stat().st_size for p in backup.iterdir()) / 1e6:.2f} MB); restore: {restore_seconds:.1f}s"
    )


def test_a_truncated_dump_is_refused_before_anything_stops(shop, tmp_path, figures):
    """A dump cut short whose checksums were recomputed after the damage: the
    full read refuses it before web is stopped or anything is changed."""
    good = backup_now(shop, tmp_path / "backups")
    damaged = tmp_path / "damaged"
    shutil.copytree(good, damaged)
    dump = damaged / "database.dump"
    # The table of contents comes first and stays whole; the data is cut.
    dump.write_bytes(dump.read_bytes()[:-1024])
    run("sh", "-c", "sha256sum database.dump media.tar contents.txt >SHA256SUMS", cwd=damaged)
    command, options = shop.compose_command(["exec", "-T", "db", "pg_restore", "--list"])
    with dump.open("rb") as stdin:
        listed = subprocess.run(command, stdin=stdin, capture_output=True, check=False, **options)
    assert listed.returncode == 0, "the damage is of the kind pg_restore --list does not see"
    before, web = snapshot(shop), web_instances(shop)

    result, seconds = restore(shop, damaged)
    assert result.returncode != 0
    assert last_line(result) == (
        f"restore: verify step failed: {damaged}/database.dump cannot be read through:"
        " it is not a complete pg_dump archive; nothing was changed"
    )
    assert snapshot(shop) == before
    assert web_instances(shop) == web, "web was never stopped"
    assert shop.get(PICTURE).status_code == 200
    figures.append(
        f"restore of a truncated dump (checksums recomputed): refused at verify in {seconds:.1f}s; "
        "rows, media and databases unchanged, web never restarted"
    )


def test_a_backup_that_fails_to_restore_leaves_the_live_data_serving(shop, tmp_path, figures):
    """A backup that passes every check but fails half-way through pg_restore
    (a GRANT to a role that no longer exists): the new database is dropped,
    the live one was never touched and web kept serving."""
    shop.psql("CREATE ROLE ghost; GRANT SELECT ON users_user TO ghost", user="postgres")
    try:
        haunted = backup_now(shop, tmp_path / "backups")
    finally:
        shop.psql("DROP OWNED BY ghost; DROP ROLE ghost", user="postgres")
    before, web = snapshot(shop), web_instances(shop)

    result, seconds = restore(shop, haunted)
    assert result.returncode != 0
    assert 'role "ghost" does not exist' in result.stderr
    assert last_line(result).startswith("restore: database step failed: pg_restore could not restore")
    assert last_line(result).endswith("the live database and media were not touched")
    assert snapshot(shop) == before, "no leftover database or staging directory either"
    assert web_instances(shop) == web, "web was never stopped"
    assert shop.get(PICTURE).status_code == 200
    figures.append(
        f"restore failing in pg_restore (GRANT to a dropped role): {seconds:.1f}s, nothing changed"
    )


def test_backup_keeps_the_newest_backup_keep(shop, tmp_path):
    """Retention keeps the newest BACKUP_KEEP backups that pass their
    checksums: a damaged one is neither counted nor the reason a good one
    goes. And a BACKUP_DIR that exists keeps its permissions."""
    backups = tmp_path / "backups"
    backups.mkdir(mode=0o755)
    for _ in range(3):
        backup_now(shop, backups, BACKUP_KEEP="2")
    names = sorted(p.name for p in backups.iterdir())
    assert len(names) == 2
    assert stat.S_IMODE(backups.stat().st_mode) == 0o755, "a directory it did not create keeps its mode"

    # The newest backup is damaged: it does not count, so the older good one stays.
    damaged = backups / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    shutil.copytree(backups / names[-1], damaged)
    (damaged / "media.tar").write_bytes(b"damaged")
    time.sleep(1.1)
    newest = backup_now(shop, backups, BACKUP_KEEP="2")
    assert sorted(p.name for p in backups.iterdir()) == [names[-1], damaged.name, newest.name]


def test_the_copy_hook_takes_each_backup_off_the_machine(shop, tmp_path):
    """BACKUP_COPY_COMMAND, read from the env file as a timer would find it,
    runs with the backup directory as $1; a failing hook fails the backup
    loudly, keeps it and deletes nothing."""
    offsite = tmp_path / "offsite"
    offsite.mkdir()
    backups = tmp_path / "backups"
    settings = shop.env_file.read_text()
    shop.env_file.write_text(settings + f'BACKUP_COPY_COMMAND=\'cp -r "$1" "{offsite}/"\'\n')
    try:
        first = backup_now(shop, backups)
        second = backup_now(shop, backups)
        assert sorted(p.name for p in offsite.iterdir()) == [first.name, second.name]
        assert verified(offsite / second.name)

        failed = make("backup", env=operate(shop, BACKUP_DIR=str(backups), BACKUP_KEEP="1",
                                            BACKUP_COPY_COMMAND="false"), check=False)  # fmt: skip
    finally:
        shop.env_file.write_text(settings)
    assert failed.returncode != 0
    (kept,) = set(backups.iterdir()) - {first, second}
    assert last_line(failed) == (
        f"backup: BACKUP_COPY_COMMAND failed (exit 1): {kept} was NOT copied off this machine;"
        " it is kept, and no backup was deleted"
    )
    assert verified(kept)
    assert {first, second} <= set(backups.iterdir()), "retention was skipped"


def test_a_release_refused_by_the_deploy_check_leaves_the_schema_alone(shop, newer_image, tmp_path):
    """make prod-up checks the new release's settings before it migrates: a
    release whose check fails (here DEBUG on) stops with the check's message,
    its migration unapplied, the running web untouched."""
    refused = tmp_path / "refused.env"
    refused.write_text(shop.env_file.read_text() + f"TAG={newer_image}\nDEBUG=true\n")
    assert shop.psql(APPLIED) == "0", "this test runs before the newer release is deployed"
    before = web_instances(shop)
    result = make("prod-up", env=operate(shop, ENV_FILE=str(refused)), check=False)
    assert result.returncode != 0
    assert "security.W018" in result.stderr
    assert shop.psql(APPLIED) == "0", "the newer migration was not applied"
    assert web_instances(shop) == before
    assert shop.get("/").status_code == 200


def test_restore_over_a_newer_schema(shop, newer_image, tmp_path, figures):
    """A backup taken before a release restores under the release's image:
    the new database gets the newer migrations when web starts. When such a
    migration fails on the restored data, the previous database and media
    are swapped back and served."""
    backups = tmp_path / "backups"
    older = backup_now(shop, backups)
    older_rows = shop.psql(ROWS_DIGEST)
    shop.psql(REFUSED)
    refused = backup_now(shop, backups)
    shop.psql(NOT_REFUSED)

    # The release: its migration runs when prod-up starts it.
    shop.env_file.write_text(shop.env_file.read_text().replace(f"TAG={TAG}\n", f"TAG={newer_image}\n"))
    make("prod-up", env=operate(shop))
    assert shop.psql(APPLIED) == "1"
    shop.psql("UPDATE users_user SET first_name = first_name || 'a'")

    result, seconds = restore(shop, older)
    assert result.returncode == 0, result.stderr
    assert shop.psql(ROWS_DIGEST) == older_rows
    assert shop.psql(APPLIED) == "1", "the restored database was migrated"
    assert shop.get(PICTURE).status_code == 200
    figures.append(f"restore of a backup older than the schema (newer migration applied): {seconds:.1f}s")
    make("restore-cleanup", env=operate(shop))

    before = snapshot(shop)
    result, seconds = restore(shop, refused)
    assert result.returncode != 0
    assert "cannot be migrated" in result.stderr
    assert last_line(result).startswith("restore: start step failed: web did not start on the incoming data")
    assert "the previous database and media were put back and web runs again" in last_line(result)
    assert snapshot(shop) == before
    for container, _ in web_instances(shop):
        assert inspect(container, "{{.State.Health.Status}}") == "healthy"
    assert shop.get(PICTURE).status_code == 200
    figures.append(f"restore whose newer migration fails on the backup: swapped back in {seconds:.1f}s")


def test_a_restore_is_undone_exactly(shop, tmp_path, figures):
    """Before: a restore deleted what it replaced as soon as web answered, so
    restoring the wrong backup lost everything written since. Now what it
    replaced is kept: restore-undo brings back exactly the data from before
    the restore (keeping the restored data in turn), restore-cleanup deletes
    what is kept; while something is kept, another restore is refused, and
    while one runs (its lock held), a second one is."""
    backup = backup_now(shop, tmp_path / "backups")
    at_backup = shop.psql(ROWS_DIGEST)
    shop.psql("UPDATE users_user SET first_name = first_name || 'b'")
    later = shop.place_upload("uploads/written-after-the-backup.png", png(24, 24, (10, 200, 90)))
    before = snapshot(shop)

    result, seconds = restore(shop, backup)
    assert result.returncode == 0, result.stderr
    kept = "The data it replaced is kept: make restore-undo swaps it back in, make restore-cleanup deletes it"
    assert result.stdout.strip().splitlines()[-1].endswith(kept)
    assert shop.psql(ROWS_DIGEST) == at_backup
    assert shop.get(later).status_code == 404
    again, _ = restore(shop, backup)
    assert again.returncode != 0
    assert "kept the data from before it: make restore-undo brings it back" in last_line(again)

    with lock_held(ROOT / ".restore.lock"):
        locked = make("restore-undo", env=operate(shop), check=False)
    assert locked.returncode != 0
    assert last_line(locked) == (
        "restore: another restore (or its undo or cleanup) is running: nothing was changed;"
        " wait for it to finish"
    )

    started = time.monotonic()
    undone = make("restore-undo", env=operate(shop))
    undo_seconds = time.monotonic() - started
    assert "the data from before the restore of" in undone.stdout
    assert shop.psql(ROWS_DIGEST) == before["rows"]
    assert shop.get(later).status_code == 200

    make("restore-cleanup", env=operate(shop))
    assert snapshot(shop) == before, "exactly the data from before the restore, and nothing kept any more"
    nothing = make("restore-cleanup", env=operate(shop), check=False)
    assert last_line(nothing) == "restore: nothing to clean up: no restore kept the data from before it"
    figures.append(
        f"restore then restore-undo: {seconds:.1f}s + {undo_seconds:.1f}s, data before the restore exact"
    )


def test_a_hang_up_during_the_swap_puts_everything_back(shop, tmp_path):
    """Before: only INT and TERM were trapped, so a dropped SSH session left
    web stopped and the media half moved, without a word. A hang-up once web
    is stopped now puts the previous data back, starts web, and leaves the
    one-line report at the end of restore-<time>.log."""
    backup = backup_now(shop, tmp_path / "backups")
    shop.psql("UPDATE users_user SET first_name = first_name || 'c'")
    before = snapshot(shop)
    logs_before = set(ROOT.glob("restore-*.log"))
    script = subprocess.Popen(
        [str(ROOT / "scripts" / "restore.sh")],
        env={**os.environ, **operate(shop, BACKUP=str(backup), CONFIRM="yes")},
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # its own session: the hang-up reaches it alone, as a terminal's would
        # A shell cannot trap a signal ignored when it started, as SIGHUP is
        # under nohup: the script gets a terminal session's default.
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL),
    )  # fmt: skip
    try:
        for line in script.stdout:
            if "stopping web to swap them in" in line:
                os.killpg(script.pid, signal.SIGHUP)
                break
        assert script.wait(timeout=300) != 0
    finally:
        if script.poll() is None:
            script.kill()
    (log,) = set(ROOT.glob("restore-*.log")) - logs_before
    try:
        report = log.read_text().strip().splitlines()[-1]
    finally:
        log.unlink()
    assert re.fullmatch(
        r"restore: (stop|swap) step failed: the terminal hung up; the previous database and media"
        r" were put back and web runs again",
        report,
    ), report
    assert snapshot(shop) == before
    for container, _ in web_instances(shop):
        assert inspect(container, "{{.State.Health.Status}}") == "healthy"
    assert shop.get(PICTURE).status_code == 200
