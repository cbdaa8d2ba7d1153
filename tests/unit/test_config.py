"""Settings from defaults, qmark.toml and QMARK_* env, and the errors they give (pipeline/config/)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from pipeline.config.load import load_settings
from pipeline.config.settings import Settings
from pipeline.config.sources import ConfigError
from pipeline.config.values import parse_size

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "qmark.example.toml"


@pytest.fixture(autouse=True)
def empty_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test runs where there is no qmark.toml unless it writes one."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def toml(text: str, name: str = "qmark.toml") -> Path:
    path = Path(name)
    path.write_text(textwrap.dedent(text))
    return path


def error_from(path: str | Path | None = None, env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env=env or {})
    return caught.value


# Where settings come from -------------------------------------------------------------------------


def test_without_a_file_the_embedded_defaults_apply() -> None:
    settings = load_settings(env={})
    assert settings.source_file is None
    assert settings.service.domain == "acme.test"
    assert settings.service.intake_addresses == ("escalations@acme.test",)
    assert settings.service.secret_key is None
    assert settings.service.timezone == "UTC"
    assert settings.storage.database_url == "sqlite:///var/qmark.db"
    assert settings.storage.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.smtp.max_message_size == 25 * 1024 * 1024
    assert settings.smtp.host_port == ("127.0.0.1", 2525)
    assert settings.imap.url is None and settings.imap.poll_interval == 30.0
    assert settings.outbound.url == "maildir:var/sent"
    assert settings.outbound.from_address == "qmark <escalations@acme.test>"
    assert settings.auth.trusted_authserv_ids == ("mx.acme.test",) and settings.auth.require_dmarc
    assert settings.http.host_port == ("127.0.0.1", 9108)
    assert (settings.scheduler.tick, settings.scheduler.sweep_after) == (15.0, 30.0)
    assert (settings.worker.processes, settings.worker.threads) == (2, 8)
    assert (settings.worker.poll_timeout, settings.worker.max_attempts) == (0.1, 5)
    assert settings.rules.path == Path("rules/examples/acme")
    assert settings.warnings() == []


def test_the_example_config_spells_out_exactly_the_defaults() -> None:
    example = load_settings(EXAMPLE, env={})
    assert example.model_dump() == Settings().model_dump()
    assert example.source_file == EXAMPLE


def test_a_file_overrides_the_defaults() -> None:
    path = toml(
        """\
        [service]
        domain = "corp.example"
        intake_addresses = ["Escalate@corp.example", "ceo-desk@corp.example"]
        secret_key = "s3cret"
        timezone = "Europe/Berlin"

        [smtp]
        listen = "[::1]:25"
        max_message_size = "512KB"

        [outbound]
        url = "smtp+starttls://qmark:pw@relay.corp.example:587"
        from = "Escalations <escalate@corp.example>"

        [scheduler]
        tick = "1m"
        """,
        name="custom.toml",
    )
    settings = load_settings(path, env={})
    assert settings.source_file == path
    assert settings.service.intake_addresses == ("escalate@corp.example", "ceo-desk@corp.example")
    assert (
        settings.service.secret_key is not None and settings.service.secret_key.get_secret_value() == "s3cret"
    )
    assert settings.smtp.host_port == ("::1", 25)
    assert settings.smtp.max_message_size == 512 * 1024
    assert settings.outbound.from_address == "Escalations <escalate@corp.example>"
    assert settings.scheduler.tick == 60.0


def test_qmark_toml_in_the_working_directory_is_found() -> None:
    toml('[service]\ndomain = "here.example"\n')
    settings = load_settings(env={})
    assert settings.service.domain == "here.example"
    assert settings.source_file == Path("qmark.toml")


def test_qmark_config_names_the_file() -> None:
    toml('[service]\ndomain = "here.example"\n')
    path = toml('[service]\ndomain = "there.example"\n', name="there.toml")
    assert load_settings(env={"QMARK_CONFIG": str(path)}).service.domain == "there.example"
    # An explicit path beats QMARK_CONFIG.
    assert load_settings("qmark.toml", env={"QMARK_CONFIG": str(path)}).service.domain == "here.example"


def test_the_environment_overrides_the_file() -> None:
    toml('[storage]\ndatabase_url = "sqlite:///file.db"\n[worker]\nthreads = 4\n')
    env = {
        "QMARK_STORAGE__DATABASE_URL": "postgresql+psycopg://qmark@db/qmark",
        "QMARK_SERVICE__INTAKE_ADDRESSES": '["a@corp.example", "B@corp.example"]',
        "QMARK_AUTH__TRUSTED_AUTHSERV_IDS": "mx1.corp.example, mx2.corp.example",
        "QMARK_OUTBOUND__FROM": "Desk <desk@corp.example>",
        "QMARK_AUTH__REQUIRE_DMARC": "false",
        "QMARK_WORKER__PROCESSES": "3",
        "QMARK_IMAP__DONE_FOLDER": "",
        "PATH": "/usr/bin",
        "QMARK_LOG_FORMAT": "json",
    }
    settings = load_settings(env=env)
    assert settings.storage.database_url == "postgresql+psycopg://qmark@db/qmark"
    assert settings.service.intake_addresses == ("a@corp.example", "b@corp.example")
    assert settings.auth.trusted_authserv_ids == ("mx1.corp.example", "mx2.corp.example")
    assert settings.outbound.from_address == "Desk <desk@corp.example>"
    assert settings.auth.require_dmarc is False
    assert (settings.worker.processes, settings.worker.threads) == (3, 4)
    assert settings.imap.done_folder is None


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("25MB", 25 * 1024**2),
        ("512KB", 512 * 1024),
        ("1GB", 1024**3),
        ("2 mb", 2 * 1024**2),
        ("100", 100),
        (7, 7),
    ],
)
def test_sizes_are_stored_in_bytes(text: str | int, size: int) -> None:
    assert parse_size(text) == size


def test_durations_are_stored_in_seconds() -> None:
    toml('[worker]\npoll_timeout = "250ms"\n[scheduler]\ntick = 5\nsweep_after = "1m30s"\n')
    settings = load_settings(env={})
    assert (settings.worker.poll_timeout, settings.scheduler.tick, settings.scheduler.sweep_after) == (
        0.25,
        5.0,
        90.0,
    )


def test_settings_are_frozen() -> None:
    with pytest.raises(ValidationError):
        Settings().smtp.listen = "0.0.0.0:25"


def test_secrets_stay_out_of_the_repr() -> None:
    toml(
        '[service]\nsecret_key = "hush"\n[imap]\npassword = "hush2"\n'
        '[outbound]\nurl = "smtp+starttls://u:hush3@relay.example:587"\n'
    )
    assert "hush" not in repr(load_settings(env={}))


def test_a_demo_without_dmarc_gets_a_start_up_warning() -> None:
    settings = load_settings(env={"QMARK_AUTH__REQUIRE_DMARC": "false"})
    assert settings.warnings() == [
        "auth.require_dmarc is false: any sender claiming an executive address is trusted; "
        "use only for local demos"
    ]


def test_a_shared_database_without_a_secret_key_warns_that_hosts_would_disagree() -> None:
    shared = {"QMARK_STORAGE__DATABASE_URL": "postgresql+psycopg://qmark@db/qmark"}
    [warning] = load_settings(env=shared).warnings()
    assert warning.startswith("service.secret_key is unset with a shared database")
    assert load_settings(env={**shared, "QMARK_SERVICE__SECRET_KEY": "s3cret"}).warnings() == []


def test_a_shared_database_with_rotating_secret_keys_does_not_warn() -> None:
    shared = {"QMARK_STORAGE__DATABASE_URL": "postgresql+psycopg://qmark@db/qmark"}
    assert load_settings(env={**shared, "QMARK_SERVICE__SECRET_KEYS": '["new", "old"]'}).warnings() == []


def test_secret_keys_are_listed_newest_first_and_the_single_key_is_a_list_of_one() -> None:
    toml('[service]\nsecret_keys = ["new-key", "old-key"]\n')
    assert load_settings(env={}).service.signing_keys == (b"new-key", b"old-key")
    Path("qmark.toml").unlink()
    assert load_settings(env={"QMARK_SERVICE__SECRET_KEY": "only"}).service.signing_keys == (b"only",)
    assert load_settings(env={}).service.signing_keys == ()


def test_secret_key_and_secret_keys_together_stop_start_up_naming_the_fix() -> None:
    toml('[service]\nsecret_key = "old-key"\nsecret_keys = ["new-key", "old-key"]\n')
    error = error_from()
    assert (error.file, error.line) == ("qmark.toml", 3)
    assert error.message == '[service] secret_keys: "[...]" is set together with secret_key'
    assert "move the secret_key value into secret_keys" in error.fix
    assert "old-key" not in str(error) and "new-key" not in str(error)


def test_an_empty_key_in_secret_keys_is_an_error() -> None:
    toml('[service]\nsecret_keys = ["new-key", ""]\n')
    assert error_from().message == '[service] secret_keys: "[...]" holds an empty key'


def test_the_http_token_is_secret_and_an_empty_one_is_an_error() -> None:
    toml('[http]\ntoken = "s3cret-token"\n')
    settings = load_settings(env={})
    assert settings.http.token is not None and settings.http.token.get_secret_value() == "s3cret-token"
    assert "s3cret-token" not in repr(settings)
    toml('[http]\ntoken = " "\n')
    error = error_from()
    assert (error.line, error.message) == (2, '[http] token: "" is empty')


def test_plain_text_passwords_to_remote_servers_get_warnings() -> None:
    toml(
        '[imap]\nurl = "imap://mail.corp.example:143"\nstarttls = false\n'
        '[outbound]\nurl = "smtp://u:p@relay.corp.example:25"\n'
    )
    assert len(load_settings(env={}).warnings()) == 2


def test_imap_with_starttls_is_no_plain_text_password() -> None:
    toml('[imap]\nurl = "imap://mail.corp.example:143"\n')
    assert load_settings(env={}).warnings() == []


# Errors -------------------------------------------------------------------------------------------


def test_an_explicitly_named_missing_file_is_an_error() -> None:
    error = error_from("nowhere.toml")
    assert (error.file, error.line, error.message) == ("nowhere.toml", None, "config file not found")
    assert "deploy/qmark.example.toml" in error.fix


def test_a_missing_file_named_by_qmark_config_is_an_error() -> None:
    error = error_from(env={"QMARK_CONFIG": "/etc/qmark/nowhere.toml"})
    assert error.file == "/etc/qmark/nowhere.toml"


def test_a_toml_syntax_error_gives_its_line() -> None:
    toml('[service]\ndomain = "acme.test"\ntimezone = Europe/Berlin\n')
    error = error_from()
    assert (error.file, error.line) == ("qmark.toml", 3)
    assert error.message.startswith("TOML syntax error: invalid value")
    assert "double quotes" in error.fix


def test_a_bad_size_gives_its_line_and_the_fix() -> None:
    toml(
        """\
        # qmark settings
        [service]
        domain = "acme.test"

        [smtp]
        listen = "127.0.0.1:2525"
        max_message_size = "25 parsecs"
        """
    )
    error = error_from()
    assert str(error) == (
        'qmark.toml:7: [smtp] max_message_size: "25 parsecs" is not a size. '
        'Fix: use a number with KB, MB or GB, e.g. "25MB".'
    )


def test_a_bad_duration_gives_its_line_and_the_fix() -> None:
    toml('[worker]\nthreads = 8\n\n[scheduler]\nsweep_after = "30s"\ntick = "soon"\n')
    error = error_from()
    assert (error.line, error.message) == (6, '[scheduler] tick: "soon" is not a duration')
    assert error.fix == 'use a number with ms, s, m or h, e.g. "15s".'


def test_business_time_is_not_a_config_duration() -> None:
    toml('[imap]\npoll_interval = "8 business hours"\n')
    assert error_from().line == 2


def test_an_unknown_key_is_reported_with_a_suggestion() -> None:
    toml('[smtp]\nlisten = "127.0.0.1:2525"\nmax_mesage_size = "1MB"\n')
    error = error_from()
    assert (
        str(error)
        == 'qmark.toml:3: [smtp] unknown key "max_mesage_size". Fix: did you mean "max_message_size"?'
    )


def test_an_unknown_section_is_reported_with_a_suggestion() -> None:
    toml('[service]\ndomain = "a.test"\n\n[schedular]\ntick = "1s"\n')
    error = error_from()
    assert (error.line, error.message, error.fix) == (
        4,
        'unknown section "[schedular]"',
        'did you mean "[scheduler]"?',
    )


def test_a_key_outside_any_section_names_its_section() -> None:
    toml('domain = "a.test"\n')
    error = error_from()
    assert (error.line, error.message, error.fix) == (
        1,
        '"domain" is outside any section',
        "put it under [service].",
    )


def test_a_wrong_type_suggests_the_default() -> None:
    toml('[worker]\nprocesses = "two"\n')
    error = error_from()
    assert str(error) == (
        'qmark.toml:2: [worker] processes: "two" is not a whole number. '
        "Fix: write it like the default: processes = 2."
    )


def test_a_bad_outbound_url_is_reported_without_its_password() -> None:
    toml('[outbound]\nurl = "http://user:hunter2@relay.example"\n')
    error = error_from()
    assert error.line == 2 and "hunter2" not in str(error)
    assert "smtp://host:port" in error.message and "maildir:PATH" in error.message


def test_a_mail_server_url_needs_a_port() -> None:
    toml('[imap]\nurl = "imaps://mail.corp.example"\n')
    error = error_from()
    assert (
        error.message
        == '[imap] url: "imaps://mail.corp.example" is not one of imaps://host:port, imap://host:port'
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("listen", '"localhost"'),
        ("listen", '"127.0.0.1:99999"'),
    ],
)
def test_a_bad_listen_address_is_reported(key: str, value: str) -> None:
    toml(f"[http]\n{key} = {value}\n")
    error = error_from()
    assert (error.line, error.fix) == (2, 'write e.g. "127.0.0.1:2525" or "[::1]:2525".')


def test_a_bad_timezone_is_reported() -> None:
    toml('[service]\ntimezone = "Mars/Olympus"\n')
    assert error_from().message == '[service] timezone: "Mars/Olympus" is not an IANA timezone'


def test_an_env_error_names_the_variable() -> None:
    toml('[smtp]\nmax_message_size = "1MB"\n')
    error = error_from(env={"QMARK_SMTP__MAX_MESSAGE_SIZE": "huge"})
    assert (error.file, error.line) == ("QMARK_SMTP__MAX_MESSAGE_SIZE", None)
    assert str(error) == (
        'QMARK_SMTP__MAX_MESSAGE_SIZE: "huge" is not a size. '
        'Fix: use a number with KB, MB or GB, e.g. "25MB".'
    )


def test_an_unknown_env_setting_is_an_error_with_a_suggestion() -> None:
    error = error_from(env={"QMARK_STORAGE__DATABASE_URI": "sqlite://"})
    assert str(error) == (
        "QMARK_STORAGE__DATABASE_URI: no such setting [storage] database_uri. "
        "Fix: did you mean QMARK_STORAGE__DATABASE_URL?"
    )


def test_a_single_underscore_env_setting_is_caught() -> None:
    error = error_from(env={"QMARK_SMTP_LISTEN": "0.0.0.0:25"})
    assert error.fix == "write QMARK_SMTP__LISTEN (two underscores)."


def test_an_env_list_that_is_broken_json_is_an_error() -> None:
    error = error_from(env={"QMARK_SERVICE__INTAKE_ADDRESSES": '["a@x.example",'})
    assert error.file == "QMARK_SERVICE__INTAKE_ADDRESSES" and "JSON list" in error.message


def test_an_empty_intake_list_is_an_error() -> None:
    toml("[service]\nintake_addresses = []\n")
    error = error_from()
    assert (error.line, error.message) == (2, "[service] intake_addresses: [] is empty")


# Redis URLs ---------------------------------------------------------------------------------------


def test_a_redis_sentinel_url_names_the_sentinels_the_service_and_the_db() -> None:
    from pipeline.config.redis_url import parse_redis_url

    toml('[storage]\nredis_url = "redis+sentinel://:pw@10.0.0.1:26379,[::1]:26380/qmark/2"\n')
    target = parse_redis_url(load_settings(env={}).storage.redis_url)
    assert target.sentinels == (("10.0.0.1", 26379), ("::1", 26380))
    assert (target.service, target.db, target.password, target.url) == ("qmark", 2, "pw", None)


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:6379/0", "rediss://redis.corp.example:6380/1", "unix:///run/redis.sock"]
)
def test_plain_redis_urls_are_kept_as_written(url: str) -> None:
    from pipeline.config.redis_url import parse_redis_url

    toml(f'[storage]\nredis_url = "{url}"\n')
    assert parse_redis_url(load_settings(env={}).storage.redis_url).url == url


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("redis+sentinel://10.0.0.1:26379", "needs /<service>"),
        ("redis+sentinel://10.0.0.1/qmark", "'10.0.0.1' is not host:port"),
        ("redis+sentinel://10.0.0.1:26379/qmark/zero", "needs /<service>"),
        ("http://10.0.0.1:6379/0", "is not redis://host:port/db"),
        ("redis://10.0.0.1:6379/zero", "is not redis://host:port/db"),
    ],
)
def test_a_bad_redis_url_stops_start_up_with_its_line_and_the_fix(url: str, why: str) -> None:
    toml(f'[service]\ndomain = "acme.test"\n[storage]\nredis_url = "{url}"\n')
    error = error_from()
    assert error.line == 4 and error.message.startswith(f'[storage] redis_url: "{url}"')
    assert why in error.message and "redis+sentinel://" in (error.fix or "")


def test_a_bad_redis_url_never_echoes_its_password() -> None:
    error = error_from(env={"QMARK_STORAGE__REDIS_URL": "redis+sentinel://:hunter2@10.0.0.1/qmark"})
    assert error.file == "QMARK_STORAGE__REDIS_URL" and "hunter2" not in str(error)
