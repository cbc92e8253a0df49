"""The keys of the audit log's and the consent events' hash chains: HMAC-SHA-256 keys kept outside the database.

Someone who can write the database can recompute a plain SHA-256 chain; they cannot recompute an HMAC without
its key, which is never stored in the database. Where the key lives (see docs/deployment.md):

* ``VB_AUDIT_KEY`` (``id:secret``, the secret at least 32 characters) — needed when several processes or
  containers write one database, so they all chain with the same key; or, when it is empty,
* the file ``audit_keys`` in the data folder (mode 600, beside ``secret_key``), made at first need: one
  ``id:secret`` per line, the **last line is the current key** and earlier lines are retired keys.

Every row stores the id of the key it was made with (``key_id``); a row without one (NULL) was made before
keys existed (migration 0015) with plain SHA-256 and is accepted only before the chain's first keyed row.
Rotating adds a key and keeps the old ones for verifying: ``vbostotte rotate-audit-key`` appends a new line
to the file, or, with ``VB_AUDIT_KEY``, prints a new key to set while the old one moves to
``VB_AUDIT_RETIRED_KEYS``. New rows use the new key from the next start; older rows keep verifying with theirs.

Each chain gets its own key derived from the secret (HMAC(secret, "vbostotte chain key:" + chain)), so an
audit entry's MAC can never stand in for a consent event's.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import logging
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vbostotte.config import Settings, SettingsError, load_settings

KEY_FILE = "audit_keys"
SESSION_INFO = "vbostotte.audit_keyring"  # where a database session carries its keyring (db.sessionmaker)
MIN_SECRET = 32
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,15}")
CHAINS = ("audit", "consent")
log = logging.getLogger(__name__)


class NoAuditKey(RuntimeError):
    """A chain row must be written, but no current key is configured."""


@functools.lru_cache(maxsize=64)
def _derive(secret: bytes, chain: str) -> bytes:
    return hmac.new(secret, b"vbostotte chain key:" + chain.encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class Keyring:
    """The current key (new rows) and the retired ones (verifying older rows), by id."""

    current_id: str | None
    secrets: tuple[tuple[str, bytes], ...]  # (id, secret), oldest first; the current one last
    source: str = ""

    def key(self, key_id: str, chain: str) -> bytes | None:
        """The chain's key for ``key_id``, or None when that key was not given."""
        for candidate, secret in self.secrets:
            if candidate == key_id:
                return _derive(secret, chain)
        return None

    def current(self, chain: str) -> tuple[str, bytes]:
        if self.current_id is None:
            raise NoAuditKey("no audit key: set VB_AUDIT_KEY or let the server make one in the data folder")
        key = self.key(self.current_id, chain)
        assert key is not None
        return self.current_id, key

    @property
    def ids(self) -> list[str]:
        return [key_id for key_id, _ in self.secrets]

    def __repr__(self) -> str:  # never the secrets
        return f"Keyring(current={self.current_id!r}, ids={self.ids!r}, source={self.source!r})"


def parse_key(raw: str, where: str) -> tuple[str, bytes]:
    key_id, sep, secret = raw.strip().partition(":")
    if not sep or not _ID.fullmatch(key_id):
        raise SettingsError(f"{where}: expected id:secret, the id 1-16 letters, digits, '.', '_' or '-'")
    if len(secret) < MIN_SECRET or "," in secret or any(c.isspace() for c in secret):
        raise SettingsError(
            f"{where}: the secret of key {key_id!r} must be at least {MIN_SECRET} characters, without commas or spaces"
        )
    return key_id, secret.encode()


def _parse_list(raw: str, where: str) -> list[tuple[str, bytes]]:
    return [parse_key(part, where) for part in raw.split(",") if part.strip()]


def _combine(keys: list[tuple[str, bytes]], where: str) -> tuple[tuple[str, bytes], ...]:
    seen: dict[str, bytes] = {}
    for key_id, secret in keys:
        if key_id in seen and seen[key_id] != secret:
            raise SettingsError(f"{where}: key id {key_id!r} is given twice with different secrets")
        seen[key_id] = secret
    ordered: list[tuple[str, bytes]] = []
    for key_id, secret in keys:  # keep the order, the last mention of an id wins its place
        ordered = [k for k in ordered if k[0] != key_id] + [(key_id, secret)]
    return tuple(ordered)


def new_key() -> str:
    """A fresh ``id:secret`` line (the id is today's date and four random hex digits)."""
    return f"{dt.date.today():%Y%m%d}-{secrets.token_hex(2)}:{secrets.token_urlsafe(32)}"


def _read_file(path: Path) -> list[tuple[str, bytes]]:
    lines = [line.strip() for line in path.read_text().splitlines()]
    return [parse_key(line, f"{path} line {n}") for n, line in enumerate(lines, 1) if line and not line.startswith("#")]


def _make_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)  # as the data folder
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return
    with os.fdopen(fd, "w") as fh:
        fh.write(new_key() + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def load(settings: Settings, *, create: bool = True) -> Keyring:
    """The keyring of ``settings``: ``VB_AUDIT_KEY`` (current) and ``VB_AUDIT_RETIRED_KEYS``, or else the data
    folder's key file (made when missing and ``create``). Raises :class:`SettingsError` for a malformed key."""
    keyring = _load(settings.audit_key, settings.audit_retired_keys, Path(settings.data_dir), create)
    if create and not settings.audit_key and not settings.is_sqlite:
        log.warning(
            "VB_AUDIT_KEY is not set: the audit chains' key is this process's file %s; processes or "
            "containers that do not share it chain with keys the others cannot verify",
            keyring.source,
        )
    return keyring


def _load(audit_key: str, retired_keys: str, data_dir: Path, create: bool) -> Keyring:
    retired = _parse_list(retired_keys, "VB_AUDIT_RETIRED_KEYS")
    if audit_key:
        current = parse_key(audit_key, "VB_AUDIT_KEY")
        return Keyring(current[0], _combine([*retired, current], "VB_AUDIT_KEY"), "VB_AUDIT_KEY")
    path = data_dir / KEY_FILE
    if not path.exists():
        if not create:
            return Keyring(None, _combine(retired, "VB_AUDIT_RETIRED_KEYS"), "none")
        _make_file(path)
    from_file = _read_file(path)
    if not from_file:
        raise SettingsError(f"{path}: holds no key")
    return Keyring(from_file[-1][0], _combine([*retired, *from_file], str(path)), str(path))


@functools.lru_cache(maxsize=8)
def _from_environment(audit_key: str, retired_keys: str, data_dir: str) -> Keyring:
    return _load(audit_key, retired_keys, Path(data_dir), True)


def from_environment() -> Keyring:
    """The keyring the process's ``VB_*`` variables give (for sessions made without one: tools and tests)."""
    settings = load_settings()
    return _from_environment(settings.audit_key, settings.audit_retired_keys, str(Path(settings.data_dir).resolve()))


def of_session(session: Any) -> Keyring:
    """The keyring a database session was made with (``db.sessionmaker(engine, keyring)``); a session made
    without one uses the process's settings, so every writer of one installation chains with its key."""
    keyring = session.info.get(SESSION_INFO)
    if keyring is None:
        keyring = from_environment()
        session.info[SESSION_INFO] = keyring
    return keyring


def rotate(settings: Settings) -> tuple[str, str | None]:
    """Start a new key. With the key file: append a new line (the new current key) and return (its id, None).
    With ``VB_AUDIT_KEY``: change nothing and return (the new id, the new ``id:secret`` to set)."""
    line = new_key()
    key_id = line.partition(":")[0]
    if settings.audit_key:
        return key_id, line
    path = Path(settings.data_dir) / KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)  # as the data folder
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a") as fh:
        fh.write(line + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    _from_environment.cache_clear()
    return key_id, None
