"""Settings come from the environment and fail with one clear line."""

import json
import os
import re
import subprocess
import sys

import pytest
from django.conf import settings

from babyshop import config

STRONG_KEY = "k" * 30 + "-3xq9VfT2mZr8sLp0aW7dN4bC1hYgJ6eU"
APP_VARIABLES = (
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "DATABASE_URL",
    "POSTGRES_USER",
    "POSTGRES_DB",
    "LOG_LEVEL",
    "SITE_DOMAIN",
    "CACHE_URL",
    "METRICS_PORT",
    "SMTP_HOST",
    "SMTP_PORT",
    "SMTP_SECURITY",
    "MEDIA_STORAGE",
    "S3_BUCKET",
    "S3_ENDPOINT_URL",
    "S3_REGION",
    "S3_ACCESS_KEY_ID",
    "S3_SECRET_ACCESS_KEY",
)


def manage(*args, program=("manage.py",), **variables):
    """Run manage.py (or another program) in a fresh process with exactly these app variables."""
    return subprocess.run(
        [*program, *args] if program[0] != "manage.py" else [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=app_environment(**variables),
        capture_output=True,
        text=True,
        timeout=60,
    )


def app_environment(**variables):
    """This process's environment with exactly these app variables (None: unset)."""
    env = {k: v for k, v in os.environ.items() if k not in APP_VARIABLES}
    env.update(
        {
            "DEBUG": "false",
            "SECRET_KEY": STRONG_KEY,
            "ALLOWED_HOSTS": "shop.example.com",
            "DATABASE_URL": "postgres://u:pw@db.invalid:5432/shop",
        }
    )
    for name, value in variables.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def assert_config_error(result, *fragments, secret=None):
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("configuration error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.stderr
    if secret:
        assert secret not in result.stdout + result.stderr


class TestBoolean:
    @pytest.mark.parametrize("word", ["1", "true", "TRUE", "yes", "on", " True "])
    def test_true_words(self, monkeypatch, word):
        monkeypatch.setenv("DEBUG", word)
        assert config.boolean("DEBUG", default=False) is True

    @pytest.mark.parametrize("word", ["0", "false", "False", "no", "off"])
    def test_false_words(self, monkeypatch, word):
        monkeypatch.setenv("DEBUG", word)
        assert config.boolean("DEBUG", default=True) is False

    @pytest.mark.parametrize("word", ["", "  "])
    def test_unset_or_blank_means_default(self, monkeypatch, word):
        monkeypatch.setenv("DEBUG", word)
        assert config.boolean("DEBUG", default=False) is False

    @pytest.mark.parametrize("word", ["2", "treu", "enabled", "False!"])
    def test_anything_else_is_an_error(self, monkeypatch, word):
        monkeypatch.setenv("DEBUG", word)
        with pytest.raises(config.ConfigError, match=r"DEBUG=.* is not a boolean"):
            config.boolean("DEBUG", default=False)


class TestFromFiles:
    """Any setting may come from the file named by NAME_FILE (Docker secrets)."""

    def test_reads_the_file_without_its_newline(self, monkeypatch, tmp_path):
        secret = tmp_path / "secret_key"
        secret.write_text(STRONG_KEY + "\n")
        monkeypatch.delenv("SECRET_KEY", raising=False)
        monkeypatch.setenv("SECRET_KEY_FILE", str(secret))
        assert config.secret_key(debug=False, dev_fallback="x") == STRONG_KEY

    def test_both_forms_at_once_is_an_error(self, monkeypatch, tmp_path):
        monkeypatch.setenv("SECRET_KEY", STRONG_KEY)
        monkeypatch.setenv("SECRET_KEY_FILE", str(tmp_path / "secret_key"))
        with pytest.raises(config.ConfigError, match="both SECRET_KEY and SECRET_KEY_FILE are set") as error:
            config.secret_key(debug=False, dev_fallback="x")
        assert STRONG_KEY not in str(error.value)

    @pytest.mark.parametrize(
        ("make", "message"),
        [
            (lambda path: None, "no such file"),
            (lambda path: path.write_text("\n"), "is empty"),
            (lambda path: path.mkdir(), "is a directory"),
        ],
    )
    def test_unusable_files_are_errors(self, monkeypatch, tmp_path, make, message):
        path = tmp_path / "password"
        make(path)
        monkeypatch.setenv("DATABASE_URL", "postgres://shop@db/shop")
        monkeypatch.setenv("DATABASE_PASSWORD_FILE", str(path))
        with pytest.raises(config.ConfigError, match=f"DATABASE_PASSWORD_FILE='{path}'.*{message}"):
            config.database()

    def test_database_password_file_replaces_the_urls(self, monkeypatch, tmp_path):
        path = tmp_path / "password"
        path.write_text("from-the-secret\n")
        monkeypatch.setenv("DATABASE_URL", "postgres://shop:from-the-url@db/shop")
        monkeypatch.setenv("DATABASE_PASSWORD_FILE", str(path))
        assert config.database()["PASSWORD"] == "from-the-secret"


class TestSiteDomain:
    @pytest.mark.parametrize(
        "value", ["localhost", "shop.example.com", "Shop.Example.COM", "xn--bcher-kva.ch"]
    )
    def test_host_names_are_accepted(self, monkeypatch, value):
        monkeypatch.setenv("SITE_DOMAIN", value)
        assert config.site_domain() == value.lower()

    @pytest.mark.parametrize(
        "value",
        ["https://shop.example.com", "shop.example.com:443", "shop.example.com/", "*.example.com", "a b"],
    )
    def test_anything_else_is_an_error(self, monkeypatch, value):
        monkeypatch.setenv("SITE_DOMAIN", value)
        with pytest.raises(config.ConfigError, match="is not a host name"):
            config.site_domain()


class TestSecretKey:
    def test_debug_off_requires_it(self, monkeypatch):
        monkeypatch.delenv("SECRET_KEY", raising=False)
        with pytest.raises(config.ConfigError, match="SECRET_KEY is not set"):
            config.secret_key(debug=False, dev_fallback="x")

    def test_debug_on_falls_back(self, monkeypatch):
        monkeypatch.delenv("SECRET_KEY", raising=False)
        assert config.secret_key(debug=True, dev_fallback="dev") == "dev"

    @pytest.mark.parametrize(
        "value", ["change-me-to-a-long-random-string" * 2, "django-insecure-" + "x" * 50]
    )
    def test_placeholders_are_refused(self, monkeypatch, value):
        monkeypatch.setenv("SECRET_KEY", value)
        with pytest.raises(config.ConfigError, match="placeholder") as error:
            config.secret_key(debug=False, dev_fallback="x")
        assert value not in str(error.value)

    def test_short_keys_are_refused(self, monkeypatch):
        monkeypatch.setenv("SECRET_KEY", "s3cr3t-but-short")
        with pytest.raises(config.ConfigError, match=r"too short \(16 characters\)") as error:
            config.secret_key(debug=False, dev_fallback="x")
        assert "s3cr3t" not in str(error.value)

    def test_a_strong_key_is_used(self, monkeypatch):
        monkeypatch.setenv("SECRET_KEY", STRONG_KEY)
        assert config.secret_key(debug=False, dev_fallback="x") == STRONG_KEY


class TestDatabaseUrl:
    def test_parses_a_postgres_url(self, monkeypatch):
        monkeypatch.setenv("DATABASE_URL", "postgres://shop:p%40ss@db:6543/babyshop")
        parsed = config.database()
        assert parsed["ENGINE"] == "django.db.backends.postgresql"
        assert (parsed["USER"], parsed["PASSWORD"], parsed["HOST"], parsed["PORT"], parsed["NAME"]) == (
            "shop",
            "p@ss",
            "db",
            6543,
            "babyshop",
        )

    @pytest.mark.parametrize(
        ("url", "message"),
        [
            ("sqlite:///db.sqlite3", "scheme 'sqlite'"),
            ("mysql://u:topsecret@db/shop", "PostgreSQL only"),
            ("postgres://u:topsecret@db:notaport/shop", "malformed"),
            ("postgres://u:topsecret@/shop", "lacks a host"),
            ("postgres://u:topsecret@db:5432/", "lacks a host or a database name"),
            ("db:5432", "expected postgres://"),
        ],
    )
    def test_malformed_urls_are_refused_without_the_password(self, monkeypatch, url, message):
        monkeypatch.setenv("DATABASE_URL", url)
        with pytest.raises(config.ConfigError, match="DATABASE_URL") as error:
            config.database()
        assert message in str(error.value)
        assert "topsecret" not in str(error.value)


class TestCacheUrl:
    def test_unset_means_no_cache(self, monkeypatch):
        monkeypatch.delenv("CACHE_URL", raising=False)
        assert config.cache_url() is None

    @pytest.mark.parametrize(
        "url", ["redis://cache:6379/0", "rediss://:pw@cache.example.com:6380/2", "redis://cache"]
    )
    def test_redis_urls_are_accepted(self, monkeypatch, url):
        monkeypatch.setenv("CACHE_URL", url)
        assert config.cache_url() == url

    @pytest.mark.parametrize(
        ("url", "message"),
        [
            ("memcached://cache:11211", "scheme 'memcached'"),
            ("cache:6379", "expected redis://HOST:PORT/DB"),
            ("redis://:topsecret@cache:port/0", "malformed"),
            ("redis://:topsecret@:6379/0", "lacks a host"),
            ("redis://:topsecret@cache:0/0", "port 0"),
            ("redis://:topsecret@cache:6379/pages", "has database 'pages'"),
        ],
    )
    def test_malformed_urls_are_refused_without_the_password(self, monkeypatch, url, message):
        monkeypatch.setenv("CACHE_URL", url)
        with pytest.raises(config.ConfigError, match="CACHE_URL") as error:
            config.cache_url()
        assert message in str(error.value)
        assert "topsecret" not in str(error.value)


class TestStartup:
    """What a user sees from manage.py (the entrypoint's first step)."""

    def test_valid_production_settings_pass_the_checks(self):
        result = manage("check")
        assert result.returncode == 0, result.stderr

    def test_debug_must_be_a_boolean(self):
        assert_config_error(manage("check", DEBUG="maybe"), "DEBUG='maybe' is not a boolean")

    def test_missing_secret_key(self):
        assert_config_error(manage("check", SECRET_KEY=None), "SECRET_KEY is not set")

    def test_short_secret_key_is_not_printed(self):
        secret = "hunter2-hunter2"
        assert_config_error(manage("check", SECRET_KEY=secret), "SECRET_KEY is too short", secret=secret)

    def test_malformed_database_url_hides_the_password(self):
        result = manage("check", DATABASE_URL="postgres://u:hunter2@db:port/shop")
        assert_config_error(result, "DATABASE_URL is malformed", secret="hunter2")

    def test_missing_database_url_without_a_default(self, monkeypatch):
        monkeypatch.delenv("DATABASE_URL", raising=False)
        with pytest.raises(config.ConfigError, match="DATABASE_URL is not set: expected postgres://"):
            config.database()

    def test_empty_allowed_hosts_with_debug_off(self):
        assert_config_error(manage("check", ALLOWED_HOSTS=""), "ALLOWED_HOSTS is empty")

    def test_csrf_origins_need_a_scheme(self):
        result = manage("check", CSRF_TRUSTED_ORIGINS="shop.example.com")
        assert_config_error(result, "CSRF_TRUSTED_ORIGINS has 'shop.example.com'")

    def test_malformed_cache_url_hides_the_password(self):
        result = manage("check", CACHE_URL="redis://:hunter2@cache:port/0")
        assert_config_error(result, "CACHE_URL is malformed", secret="hunter2")

    @pytest.mark.parametrize(
        ("url", "backend"),
        [
            (None, "django.core.cache.backends.locmem.LocMemCache None"),
            ("redis://cache:6379/1", "django.core.cache.backends.redis.RedisCache redis://cache:6379/1"),
        ],
    )
    def test_the_cache_is_local_memory_unless_cache_url_is_set(self, url, backend):
        shown = (
            "from django.conf import settings; default = settings.CACHES['default']; "
            "print(default['BACKEND'], default.get('LOCATION'))"
        )
        result = manage("shell", "--no-imports", "-c", shown, CACHE_URL=url)
        assert result.stdout.strip() == backend, result.stderr

    @pytest.mark.parametrize(
        ("variables", "message"),
        [
            (
                {"SMTP_HOST": "smtp://mail.example.com"},
                "SMTP_HOST='smtp://mail.example.com' is not a host name",
            ),
            (
                {"SMTP_HOST": "mail", "SMTP_SECURITY": "ssl"},
                "SMTP_SECURITY='ssl' is not valid: expected one of",
            ),
            (
                {"SMTP_HOST": "mail", "SMTP_PORT": "smtp"},
                "SMTP_PORT='smtp' is not valid: expected a whole number",
            ),
            ({"SMTP_HOST": "mail", "SMTP_USER": "shop"}, "SMTP_USER is set but SMTP_PASSWORD is not"),
            ({"EMAIL_FROM": "the shop"}, "EMAIL_FROM='the shop' is not an email address"),
            ({"TASK_MAX_ATTEMPTS": "0"}, "TASK_MAX_ATTEMPTS='0' is not valid: expected a whole number >= 1"),
            ({"WORKER_POLL_SECONDS": "nan"}, "WORKER_POLL_SECONDS='nan' is not valid: expected a number"),
        ],
    )
    def test_bad_mail_and_task_settings(self, variables, message):
        assert_config_error(manage("check", **variables), message)

    def test_smtp_settings(self):
        show = (
            "from django.conf import settings; o = settings.MAILERS['smtp']['OPTIONS'];"
            "print(o['port'], o['use_tls'], o['use_ssl'], settings.TASK_QUEUES)"
        )
        result = manage(
            "shell", "--verbosity", "0", "-c", show, SMTP_HOST="mail.example.com", SMTP_SECURITY="tls"
        )
        assert result.stdout.split() == ["465", "False", "True", "['default',", "'email']"], result.stderr
        result = manage(
            "shell", "--verbosity", "0", "-c", "from django.conf import settings; print(settings.TASK_QUEUES)"
        )
        assert result.stdout.strip() == "['default']", result.stderr

    def test_bad_log_level(self):
        assert_config_error(manage("check", LOG_LEVEL="loud"), "LOG_LEVEL='loud' is not valid")

    def test_site_domain_gives_hosts_and_csrf_origins(self):
        show = (
            "from django.conf import settings; print(settings.ALLOWED_HOSTS, settings.CSRF_TRUSTED_ORIGINS)"
        )
        result = manage(
            "shell", "--verbosity", "0", "-c", show, ALLOWED_HOSTS=None, SITE_DOMAIN="shop.example.com"
        )
        assert result.stdout.strip() == "['shop.example.com'] ['https://shop.example.com']"

    def test_production_settings_pass_the_deploy_checks(self):
        result = manage("check", "--deploy", "--fail-level", "WARNING", SITE_DOMAIN="shop.example.com")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "no issues" in result.stdout

    @pytest.mark.parametrize(
        "choice",
        [
            {"HSTS_SECONDS": "0"},
            {"HSTS_INCLUDE_SUBDOMAINS": "false"},
            {"HSTS_PRELOAD": "false"},
            {"BEHIND_HTTPS_PROXY": "false"},
        ],
    )
    def test_a_documented_choice_passes_the_deploy_checks(self, choice):
        """Settings .env.example offers are choices, not mistakes: make prod-up
        must not refuse them."""
        variables = {"SITE_DOMAIN": "shop.example.com", **choice}
        result = manage("check", "--deploy", "--fail-level", "WARNING", **variables)
        assert result.returncode == 0, result.stdout + result.stderr

    def test_debug_in_production_still_fails_the_deploy_checks(self):
        result = manage("check", "--deploy", "--fail-level", "WARNING", DEBUG="true")
        assert result.returncode != 0
        assert "security.W018" in result.stderr

    def test_https_settings_are_off_in_development(self):
        show = "from django.conf import settings as s; print(s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE)"
        result = manage("shell", "--verbosity", "0", "-c", show, DEBUG="true")
        assert result.stdout.strip() == "False False"

    def test_debug_on_needs_no_secret(self):
        result = manage("check", DEBUG="true", SECRET_KEY=None, ALLOWED_HOSTS=None)
        assert result.returncode == 0, result.stderr

    def test_without_a_database_url_web_uses_the_compose_db_service(self):
        """The production compose file sets no DATABASE_URL: web connects to
        its db service as the user, and to the database, that db was created with."""
        show = "from django.conf import settings as s; d = s.DATABASES['default']; print(d['HOST'], d['USER'], d['NAME'])"
        variables = {"DATABASE_URL": None, "POSTGRES_USER": "clerk", "POSTGRES_DB": "stock"}
        result = manage("shell", "--verbosity", "0", "-c", show, **variables)
        assert result.stdout.strip() == "db clerk stock", result.stderr
        assert manage("shell", "--verbosity", "0", "-c", show).stdout.strip() == "db.invalid u shop"

    def test_collectstatic_needs_no_database(self, tmp_path):
        result = manage("collectstatic", "--noinput", STATIC_ROOT=str(tmp_path))
        assert result.returncode == 0, result.stderr
        manifest = (tmp_path / "staticfiles.json").read_text()
        assert "css/site.css" in manifest
        assert list(tmp_path.glob("css/site.*.css.gz")), "compressed, hashed copies are made"


class TestOnePlace:
    """Every variable, gunicorn's and the entrypoint's included, is checked by
    the settings module, with one message format, before anything starts."""

    @pytest.mark.parametrize(
        ("name", "value", "message"),
        [
            ("WEB_CONCURRENCY", "lots", "WEB_CONCURRENCY='lots' is not valid: expected a whole number >= 1"),
            ("GUNICORN_TIMEOUT", "0", "GUNICORN_TIMEOUT='0' is not valid: expected a whole number >= 1"),
            ("PORT", "http", "PORT='http' is not valid"),
            ("MIGRATE_ON_START", "sure", "MIGRATE_ON_START='sure' is not a boolean"),
            ("DB_WAIT_TIMEOUT", "soon", "DB_WAIT_TIMEOUT='soon' is not valid"),
            ("FORWARDED_ALLOW_IPS", "the proxy", "FORWARDED_ALLOW_IPS='the proxy' is not valid"),
            ("MAX_REQUEST_BODY", "1000", "MAX_REQUEST_BODY=1000 is not above MAX_UPLOAD_SIZE=10485760"),
            ("LOGIN_FAILURE_LIMIT", "0", "LOGIN_FAILURE_LIMIT='0' is not valid"),
            ("LOG_FORMAT", "xml", "LOG_FORMAT='xml' is not valid: expected one of PLAIN, JSON"),
            ("METRICS_PORT", "metrics", "METRICS_PORT='metrics' is not valid: expected a whole number >= 1"),
            ("METRICS_PORT", "8000", "METRICS_PORT=8000 is not valid: expected a port number other than"),
            ("METRICS_PORT", "65536", "METRICS_PORT=65536 is not valid: expected a port number"),
        ],
    )
    def test_the_container_start_step_reports_it(self, name, value, message):
        assert_config_error(manage("prestart", **{name: value}), message)

    def test_gunicorn_reads_the_same_settings(self):
        """(gunicorn itself reads WEB_CONCURRENCY when imported, with a
        traceback for a bad value: prestart has stopped the container before.)"""
        result = manage(
            "--check-config", "--config", "gunicorn.conf.py", "babyshop.wsgi",
            program=("gunicorn",), GUNICORN_THREADS="lots",
        )  # fmt: skip
        assert_config_error(result, "GUNICORN_THREADS='lots' is not valid")

    SHOW = (
        "import runpy; c = runpy.run_path('gunicorn.conf.py'); "
        "print(c['workers'], c['bind'], c['loglevel'], c.get('accesslog'))"
    )

    def test_gunicorn_gets_the_values(self):
        result = manage(
            "-c", self.SHOW, program=(sys.executable,), WEB_CONCURRENCY="3", PORT="9000", LOG_LEVEL="warning",
        )  # fmt: skip
        assert result.stdout.strip() == "3 0.0.0.0:9000 warning None", result.stderr

    GUNICORN_LINE = (
        "import runpy; from gunicorn.config import Config; c = runpy.run_path('gunicorn.conf.py'); "
        "config = Config(); config.set('errorlog', '-'); "
        "c['logger_class'](config).error('worker %s timed out', 7)"
    )

    @pytest.mark.parametrize("log_format", ["JSON", "PLAIN"])
    def test_gunicorn_logs_its_own_lines_in_the_log_format(self, log_format):
        """gunicorn writes no access log (the app logs each request): its
        own lines, in LOG_FORMAT."""
        result = manage("-c", self.GUNICORN_LINE, program=(sys.executable,), LOG_FORMAT=log_format)
        (line,) = result.stderr.strip().splitlines()
        if log_format == "JSON":
            entry = json.loads(line)
            assert (entry["level"], entry["logger"], entry["message"]) == (
                "ERROR",
                "gunicorn.error",
                "worker 7 timed out",
            )
        else:
            assert line.endswith("[ERROR] worker 7 timed out")

    def test_a_value_starting_with_a_dollar_is_taken_as_it_is(self, monkeypatch):
        """django-environ's Env would read "$HOME" as the value of HOME."""
        monkeypatch.setenv("DATABASE_URL", "postgres://shop@db/shop")
        monkeypatch.setenv("DATABASE_PASSWORD", "$HOME")
        assert config.database()["PASSWORD"] == "$HOME"

    def test_the_entrypoint_checks_nothing_itself(self):
        entrypoint = (settings.BASE_DIR.parent / "entrypoint.sh").read_text()
        commands = [line for line in entrypoint.splitlines() if line and not line.startswith("#")]
        assert commands == [
            "set -eu",
            'if [ "${1:-}" = gunicorn ]; then',
            '    exec python manage.py prestart "$@"',
            "fi",
            "python manage.py prestart",
            'exec "$@"',
        ]

    GUNICORN = ("gunicorn", "--print-config", "--config", "gunicorn.conf.py", "babyshop.wsgi")

    def test_prestart_runs_gunicorn_in_its_own_process_after_the_checks(self):
        """The entrypoint's way to start web: gunicorn itself would stop at a
        bad WEB_CONCURRENCY with a traceback, but the settings refuse it first."""
        ready = manage("prestart", *self.GUNICORN, MIGRATE_ON_START="false", WEB_CONCURRENCY="3")
        assert ready.returncode == 0, ready.stderr
        assert re.search(r"^workers += 3$", ready.stdout, re.MULTILINE), "gunicorn ran, with its settings"
        refused = manage("prestart", *self.GUNICORN, MIGRATE_ON_START="false", WEB_CONCURRENCY="lots")
        assert_config_error(refused, "WEB_CONCURRENCY='lots' is not valid")


class TestBucket:
    """MEDIA_STORAGE=s3's settings (babyshop/buckets.py)."""

    @pytest.fixture(autouse=True)
    def complete(self, monkeypatch):
        for name, value in {
            "S3_BUCKET": "shop-media",
            "S3_ENDPOINT_URL": "https://s3.example.com",
            "S3_ACCESS_KEY_ID": "AKIASHOP",
            "S3_SECRET_ACCESS_KEY": "s3cr3t-key-value",
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("S3_REGION", raising=False)

    def test_the_options(self):
        assert config.bucket() == {
            "bucket_name": "shop-media",
            "endpoint_url": "https://s3.example.com",
            "region_name": "us-east-1",
            "access_key": "AKIASHOP",
            "secret_key": "s3cr3t-key-value",
        }

    def test_the_secret_key_from_a_file(self, monkeypatch, tmp_path):
        (tmp_path / "s3_secret_key").write_text("from-the-file\n")
        monkeypatch.delenv("S3_SECRET_ACCESS_KEY")
        monkeypatch.setenv("S3_SECRET_ACCESS_KEY_FILE", str(tmp_path / "s3_secret_key"))
        assert config.bucket()["secret_key"] == "from-the-file"

    def test_aws_itself_needs_no_endpoint(self, monkeypatch):
        monkeypatch.delenv("S3_ENDPOINT_URL")
        assert config.bucket()["endpoint_url"] is None

    @pytest.mark.parametrize(
        ("name", "value", "message"),
        [
            ("S3_BUCKET", None, "S3_BUCKET is not set: MEDIA_STORAGE=s3 needs the name of a private bucket"),
            ("S3_BUCKET", "Shop_Media", "S3_BUCKET='Shop_Media' is not a bucket name"),
            ("S3_ENDPOINT_URL", "s3.example.com", "S3_ENDPOINT_URL has scheme '(none)'"),
            ("S3_ENDPOINT_URL", "https://s3.example.com/shop-media", "S3_ENDPOINT_URL has more than"),
            ("S3_ACCESS_KEY_ID", None, "S3_ACCESS_KEY_ID is not set"),
            ("S3_SECRET_ACCESS_KEY", None, "S3_SECRET_ACCESS_KEY is not set"),
        ],
    )
    def test_mistakes_are_one_line(self, monkeypatch, name, value, message):
        if value is None:
            monkeypatch.delenv(name)
        else:
            monkeypatch.setenv(name, value)
        with pytest.raises(config.ConfigError) as error:
            config.bucket()
        assert str(error.value).startswith(message)
        assert "s3cr3t-key-value" not in str(error.value)

    def test_the_choice_is_checked_at_start(self):
        result = manage("check", MEDIA_STORAGE="s3", S3_BUCKET=None)
        assert_config_error(result, "S3_BUCKET is not set")
        result = manage("check", MEDIA_STORAGE="ftp")
        assert_config_error(result, "MEDIA_STORAGE='ftp' is not valid: expected one of LOCAL, S3")
