"""deploy/systemd/: `systemd-analyze verify` accepts every unit, instantiated as qmark-<role>@1.

`verify` checks that ExecStart's binary exists, and the units name /opt/qmark/bin/qmark (where
the operator installs qmark's virtualenv). So each test copies the units into a temporary
directory with that path replaced by the qmark of the test virtualenv and each template copied
to its instance ``@1`` (the instance name is an index), then verifies the copies; the shared
drop-in ``qmark-.service.d/`` is read from beside them. A copy with a bad directive shows the
check can fail: systemd only warns about unknown keys, so any output counts as a failure.
"""

from __future__ import annotations

import configparser
import shutil
from pathlib import Path

from tests.support.deploy import DEPLOY, QMARK, command_of, is_qmark_command, run
from tests.support.servers import require_binary

UNITS = DEPLOY / "systemd"
ROLES = ("smtp", "worker", "scheduler", "imap", "http")
INSTALLED = "/opt/qmark/bin/qmark"


def instantiated(tmp_path: Path) -> Path:
    """A copy of deploy/systemd/ runnable here, with qmark-<role>@1.service beside each template."""
    copy = tmp_path / "units"
    shutil.copytree(UNITS, copy)
    for unit in copy.glob("*.service"):
        unit.write_text(unit.read_text().replace(INSTALLED, str(QMARK)))
    for role in ROLES:
        shutil.copy(copy / f"qmark-{role}@.service", copy / f"qmark-{role}@1.service")
    return copy


def verify(directory: Path, *names: str) -> tuple[int, str]:
    analyze = require_binary("systemd-analyze", "systemd")
    checked = run(analyze, "verify", "--man=no", *(str(directory / name) for name in names))
    return checked.returncode, (checked.stdout + checked.stderr).strip()


def service_section(unit: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(unit.read_text())
    return parser["Service"]


def test_systemd_analyze_verifies_every_unit_instantiated(tmp_path):
    copy = instantiated(tmp_path)
    names = [f"qmark-{role}@1.service" for role in ROLES] + ["qmark-migrate.service", "qmark.target"]
    code, output = verify(copy, *names)
    assert (code, output) == (0, "")


def test_a_unit_with_a_bad_directive_is_caught(tmp_path):
    copy = instantiated(tmp_path)
    unit = copy / "qmark-worker@1.service"
    unit.write_text(unit.read_text().replace("ExecStart=", "ExecStrat="))
    code, output = verify(copy, unit.name)
    assert code != 0
    assert "Unknown key 'ExecStrat'" in output


def test_a_misspelt_hardening_directive_in_the_shared_drop_in_is_caught(tmp_path):
    copy = instantiated(tmp_path)
    drop_in = copy / "qmark-.service.d" / "10-common.conf"
    drop_in.write_text(drop_in.read_text().replace("NoNewPrivileges=", "NoNewPrivilege="))
    code, output = verify(copy, "qmark-http@1.service")
    assert "Unknown key 'NoNewPrivilege'" in output, (code, output)


def test_a_unit_whose_binary_is_missing_is_caught(tmp_path):
    copy = instantiated(tmp_path)
    unit = copy / "qmark-smtp@1.service"
    unit.write_text(unit.read_text().replace(str(QMARK), "/nonexistent/qmark"))
    code, output = verify(copy, unit.name)
    assert code != 0
    assert "/nonexistent/qmark is not executable" in output


def test_every_exec_start_runs_a_real_qmark_command():
    for unit in [*UNITS.glob("qmark-*@.service"), UNITS / "qmark-migrate.service"]:
        binary, *args = service_section(unit)["ExecStart"].split()
        assert binary == INSTALLED, unit.name
        assert is_qmark_command(*command_of(args)), unit.name
    assert {unit.name for unit in UNITS.glob("*@.service")} == {f"qmark-{role}@.service" for role in ROLES}


def test_the_shared_drop_in_sandboxes_every_unit_and_restarts_on_failure():
    common = service_section(UNITS / "qmark-.service.d" / "10-common.conf")
    for key, value in {
        "DynamicUser": "yes",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "Restart": "on-failure",
    }.items():
        assert common[key] == value, key
    assert not list(UNITS.glob("*.socket"))
