"""Settings, start-up checks and the command line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from vbostotte.app import create_app
from vbostotte.config import SettingsError, load_settings, setting_docs
from vbostotte.db import NotMigrated
from vbostotte.models import AuditEntry, Staff, StaffRole

from support import reread

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "vbostotte", *args],
        env={**os.environ, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_readme_settings_table_matches_the_settings_object():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("<!-- settings:start -->", 1)[1].split("<!-- settings:end -->", 1)[0]
    rows = [
        [cell.strip().strip("`") for cell in line.strip().strip("|").split("|")]
        for line in table.strip().splitlines()[2:]
    ]
    documented = {row[0]: (row[1], row[2]) for row in rows}
    declared = {name: (default, help_) for name, default, help_ in setting_docs()}
    assert set(documented) == set(declared), "README settings table and vbostotte/config.py disagree on names"
    for name, (default, help_) in declared.items():
        assert documented[name] == (default, help_), f"{name}: README says {documented[name]}"


def test_settings_come_from_vb_variables_with_clear_errors():
    settings = load_settings({"VB_PORT": "9000", "VB_STAFF_MFA": "optional", "VB_TRUST_FORWARDED_FOR": "yes"})
    assert (settings.port, settings.staff_mfa, settings.trust_forwarded_for) == (9000, "optional", True)
    assert settings.resolved_database_url.startswith("sqlite+aiosqlite:///")
    with pytest.raises(SettingsError, match="VB_PORT: expected a whole number"):
        load_settings({"VB_PORT": "eighty"})
    with pytest.raises(SettingsError, match="VB_STAFF_MFA: must be one of required, optional"):
        load_settings({"VB_STAFF_MFA": "sometimes"})
    bad = run_cli("migrate", env={"VB_STAFF_MFA": "sometimes"})
    assert bad.returncode == 2 and "Configuration error: VB_STAFF_MFA" in bad.stderr


def test_serve_runs_on_uvloop_unless_the_standard_loop_is_asked_for():
    import asyncio

    import uvloop

    from vbostotte.cli import event_loop

    for environ, kind in (({}, uvloop.Loop), ({"VB_EVENT_LOOP": "asyncio"}, asyncio.SelectorEventLoop)):
        loop = event_loop(load_settings(environ))
        try:
            assert type(loop) is kind
        finally:
            loop.close()
    with pytest.raises(SettingsError, match="VB_EVENT_LOOP: must be one of uvloop, asyncio"):
        load_settings({"VB_EVENT_LOOP": "trio"})


def test_secret_key_is_generated_once_and_kept_private(tmp_path):
    settings = load_settings({}, data_dir=tmp_path)
    first, second = settings.with_secret().secret_key, settings.with_secret().secret_key
    assert first == second and len(first) >= 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


async def test_the_app_refuses_an_unmigrated_database(tmp_path, aiohttp_client):
    settings = load_settings({}, data_dir=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path}/empty.db")
    with pytest.raises(NotMigrated, match="Run `vbostotte migrate`"):
        await aiohttp_client(create_app(settings))


def test_serve_on_an_unmigrated_database_says_which_command_fixes_it(tmp_path):
    result = run_cli("serve", "--port", "0", env={"VB_DATA_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert "not migrated" in result.stderr and "vbostotte migrate" in result.stderr


async def test_create_admin_makes_an_administrator_who_must_enrol_totp(settings, web, db):
    env = {
        "VB_DATABASE_URL": settings.database_url,
        "VB_DATA_DIR": str(settings.data_dir),
        "VB_ADMIN_PASSWORD": "a long first password",
    }
    result = run_cli(
        "create-admin", "--email", "Admin@Viborg.dk", "--name", "Vibeke", "--municipality", "Viborg", env=env
    )
    assert result.returncode == 0, result.stderr
    await reread(db)
    admin = (await db.execute(select(Staff).where(Staff.email == "admin@viborg.dk"))).scalar_one()
    assert admin.role == StaffRole.ADMIN and admin.password_hash.startswith("$argon2id$")
    assert admin.totp_secret is None
    assert (await db.execute(select(AuditEntry).where(AuditEntry.action == "staff.create"))).scalar_one()
    first_login = await web.post("/login", {"email": "admin@viborg.dk", "password": "a long first password"})
    assert first_login.headers["Location"] == "/login/enrol"


def test_create_admin_refuses_bad_input_and_writes_nothing(settings):
    env = {
        "VB_DATABASE_URL": settings.database_url,
        "VB_DATA_DIR": str(settings.data_dir),
        "VB_ADMIN_PASSWORD": "short",
    }
    result = run_cli("create-admin", "--email", "not-an-email", "--name", "X", "--municipality", "Viborg", env=env)
    assert result.returncode == 2
    assert re.search(r"email: .*valid e-mail", result.stderr) and "password:" in result.stderr
