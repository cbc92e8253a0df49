"""The data folder, the SQLite database (with its -wal and -shm files) and the generated secret key are readable
by their owner only: folder 0700, files 0600, whatever the process's umask, and tightened on an existing
installation whose files were made before."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from vbostotte import db as database
from vbostotte.config import load_settings


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask():
    """The most permissive umask: nothing may rely on the umask to keep the files private."""
    old = os.umask(0)
    yield
    os.umask(old)


def test_the_data_folder_and_the_secret_key_are_the_owners_only(tmp_path, open_umask):
    data = tmp_path / "new" / "data"
    load_settings({}, data_dir=data).with_secret()
    assert mode(data) == 0o700
    assert mode(data / "secret_key") == 0o600


async def test_the_sqlite_database_and_its_wal_and_shm_files_are_the_owners_only(tmp_path, open_umask):
    data = tmp_path / "data"
    path = data / "vbostotte.db"
    engine = database.create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
            await conn.execute(text("INSERT INTO t VALUES (1)"))
        async with engine.connect() as conn:  # while a connection is open the -wal and -shm files exist
            await conn.execute(text("SELECT x FROM t"))
            files = [path, data / "vbostotte.db-wal", data / "vbostotte.db-shm"]
            assert all(f.exists() for f in files)
            assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
    finally:
        await engine.dispose()
    assert mode(data) == 0o700


async def test_an_existing_installations_files_are_tightened(tmp_path):
    path = tmp_path / "vbostotte.db"
    path.touch(mode=0o644)
    os.chmod(path, 0o644)
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").touch()
        os.chmod(f"{path}{suffix}", 0o644)
    engine = database.create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    finally:
        await engine.dispose()
    assert mode(path) == 0o600
    for suffix in ("-wal", "-shm"):
        if Path(f"{path}{suffix}").exists():
            assert mode(Path(f"{path}{suffix}")) == 0o600


def test_vbostotte_migrate_makes_a_private_data_folder_and_database(tmp_path):
    data = tmp_path / "data"
    result = subprocess.run(
        [sys.executable, "-m", "vbostotte", "migrate"],
        capture_output=True,
        text=True,
        env={**os.environ, "VB_DATA_DIR": str(data), "VB_DATABASE_URL": ""},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert mode(data) == 0o700
    assert mode(data / "vbostotte.db") == 0o600
