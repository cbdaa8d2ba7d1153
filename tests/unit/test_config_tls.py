"""[smtp] tls_cert, tls_key, require_tls: a pair that cannot serve TLS stops start-up (file, line, fix)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pipeline.config.load import load_settings
from pipeline.config.sources import ConfigError
from tests.support.certs import self_signed


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed(tmp_path)


def error_for(tmp_path: Path, smtp_lines: str) -> ConfigError:
    path = tmp_path / "qmark.toml"
    path.write_text("[smtp]\n" + textwrap.dedent(smtp_lines))
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    return caught.value


def test_a_readable_certificate_and_key_are_accepted(tmp_path: Path, pair: tuple[Path, Path]) -> None:
    cert, key = pair
    path = tmp_path / "qmark.toml"
    path.write_text(f'[smtp]\ntls_cert = "{cert}"\ntls_key = "{key}"\nrequire_tls = true\n')
    smtp = load_settings(path, env={}).smtp
    assert (smtp.tls_cert, smtp.tls_key, smtp.require_tls) == (str(cert), str(key), True)


def test_a_missing_key_file_stops_start_up_at_its_line(tmp_path: Path, pair: tuple[Path, Path]) -> None:
    cert, _ = pair
    error = error_for(tmp_path, f'tls_cert = "{cert}"\ntls_key = "{tmp_path}/nowhere.key"\n')
    assert error.line == 3
    assert (
        "[smtp] tls_key" in error.message
        and "cannot read" in error.message
        and "nowhere.key" in error.message
    )
    assert "readable PEM certificate" in error.fix


def test_a_key_that_does_not_belong_to_the_certificate_stops_start_up(
    tmp_path: Path, pair: tuple[Path, Path]
) -> None:
    cert, _ = pair
    _, other_key = self_signed(tmp_path, name="other")
    error = error_for(tmp_path, f'tls_cert = "{cert}"\ntls_key = "{other_key}"\n')
    assert error.line == 3 and "not a PEM certificate and its private key" in error.message


def test_a_certificate_without_a_key_stops_start_up_naming_both(
    tmp_path: Path, pair: tuple[Path, Path]
) -> None:
    cert, _ = pair
    error = error_for(tmp_path, f'tls_cert = "{cert}"\n')
    assert (error.line, error.message) == (1, "[smtp] tls_key: is unset but tls_cert is set")
    assert error.fix.startswith("set both tls_cert and tls_key, or neither")


def test_a_key_without_a_certificate_stops_start_up_at_its_line(
    tmp_path: Path, pair: tuple[Path, Path]
) -> None:
    _, key = pair
    error = error_for(tmp_path, f'listen = "127.0.0.1:2525"\ntls_key = "{key}"\n')
    assert (error.line, error.message) == (3, f'[smtp] tls_key: "{key}" is set without tls_cert')


def test_require_tls_without_a_certificate_stops_start_up(tmp_path: Path) -> None:
    error = error_for(tmp_path, "require_tls = true\n")
    assert (error.line, error.message) == (2, "[smtp] require_tls: true needs a certificate")


def test_a_bad_key_path_from_the_environment_names_the_variable(
    tmp_path: Path, pair: tuple[Path, Path]
) -> None:
    cert, _ = pair
    env = {"QMARK_SMTP__TLS_CERT": str(cert), "QMARK_SMTP__TLS_KEY": str(tmp_path / "gone.key")}
    with pytest.raises(ConfigError) as caught:
        load_settings(None, env=env)
    assert caught.value.file == "QMARK_SMTP__TLS_KEY" and "cannot read" in caught.value.message
