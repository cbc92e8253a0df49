"""Backups: SQLite with its online backup API (a consistent copy while the server runs and writes), PostgreSQL
with ``pg_dump`` (custom format; restore with ``pg_restore``). The password never appears on a command line."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url


class BackupError(RuntimeError):
    """The backup could not be made; the message says why and what to do."""


@dataclass(frozen=True)
class PgDump:
    """The pg_dump command for a database URL, and the environment carrying its password."""

    argv: list[str]
    env: dict[str, str]

    @property
    def shown(self) -> str:
        """The command as an operator may type it (no password in it)."""
        return " ".join(self.argv)


def pg_dump_command(database_url: str, target: Path) -> PgDump:
    url = make_url(database_url)
    env = {"PGPASSWORD": url.password} if url.password else {}
    bare = URL.create(
        "postgresql", username=url.username, host=url.host, port=url.port, database=url.database, query=url.query
    )  # no password: it travels in PGPASSWORD
    conninfo = bare.render_as_string(hide_password=False)
    return PgDump(["pg_dump", "--format=custom", "--no-owner", f"--file={target}", conninfo], env)


def backup_sqlite(database_path: Path, target: Path) -> int:
    """Copy the SQLite database to ``target`` page by page with the online backup API; returns its size.
    Writers go on meanwhile (WAL); the copy is the database as of one moment, and it is checked before returning."""
    if not database_path.exists():
        raise BackupError(f"There is no database at {database_path}.")
    partial = target.with_name(target.name + ".partial")
    source = sqlite3.connect(f"file:{database_path}?mode=ro", uri=True)
    try:
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)  # in one step: under WAL a reader never blocks the writers
            if copy.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise BackupError("The copy failed its integrity check; nothing was written.")
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        finally:
            copy.close()
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        source.close()
    os.chmod(partial, 0o600)  # the database holds personal data
    partial.replace(target)
    return target.stat().st_size


def backup(database_url: str, target: Path) -> str:
    """Make a backup of the database at ``database_url`` in ``target`` (which must not exist); a one-line report."""
    if target.exists():
        raise BackupError(f"{target} exists already; choose a new file name.")
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        size = backup_sqlite(Path(url.database or ""), target)
        return f"SQLite backup written to {target} ({size} bytes)."
    command = pg_dump_command(database_url, target)
    if shutil.which("pg_dump") is None:
        raise BackupError(
            "pg_dump is not installed here. Install the PostgreSQL client tools (the same major "
            f"version as the server), or run on a machine that has them:\n  {command.shown}"
        )
    result = subprocess.run(command.argv, env={**os.environ, **command.env}, capture_output=True, text=True)
    if result.returncode != 0:
        target.unlink(missing_ok=True)
        raise BackupError(f"pg_dump failed ({result.returncode}): {result.stderr.strip()}")
    os.chmod(target, 0o600)
    return f"PostgreSQL backup written to {target} ({target.stat().st_size} bytes) by: {command.shown}"
