"""Files only this service's user may read: the data folder (0700), the SQLite database with its -wal and -shm files,
and the generated secret key (0600). Modes are set explicitly, not left to the process's umask; the files of an
existing installation are tightened when they are next opened. An existing folder is left as it is (it may be
one the operator chose and shares), but everything the service keeps in it is private."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

PRIVATE_FOLDER = 0o700
PRIVATE_FILE = 0o600

log = logging.getLogger(__name__)


def folder(path: Path) -> None:
    """Create ``path`` (and any missing parents) with mode 0700 for the last; leave an existing folder alone."""
    try:
        path.mkdir(parents=True, mode=PRIVATE_FOLDER)
    except FileExistsError:
        return
    os.chmod(path, PRIVATE_FOLDER)  # mkdir's mode passes through the umask


def create(path: Path) -> bool:
    """Create ``path`` empty with mode 0600 unless it exists (then tighten it); True if it was created."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    except FileExistsError:
        tighten(path)
        return False
    os.chmod(path, PRIVATE_FILE)
    return True


def tighten(path: Path) -> None:
    """Take away what group and others may do with an existing file of ours (missing files are fine)."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
        if current & 0o077:
            os.chmod(path, current & PRIVATE_FILE)
    except FileNotFoundError:
        pass
    except OSError as exc:  # not ours to change: say so, but do not stop the service over it
        log.warning("could not make %s private: %s", path.name, type(exc).__name__)


def sqlite_database(path: Path) -> None:
    """Before SQLite opens ``path``: its folder and an empty database file made private. SQLite gives the -wal and
    -shm files (and a rollback journal) the database file's mode, so they are private too; an installation's older
    ones are tightened here."""
    folder(path.parent)
    create(path)
    for suffix in ("-wal", "-shm", "-journal"):
        tighten(path.with_name(path.name + suffix))
