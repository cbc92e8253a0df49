"""Settings: every setting declared once, with type, default and help, read from ``VB_*`` variables."""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from vbostotte.operations import private_files

PREFIX = "VB_"


class SettingsError(ValueError):
    """A setting has a value that cannot be used."""


def _setting(default: Any, help: str, choices: tuple[str, ...] | None = None) -> Any:
    return field(default=default, metadata={"help": help, "choices": choices})


@dataclass(frozen=True)
class Settings:
    """The whole configuration of one server process."""

    data_dir: Path = _setting(
        Path("data"),
        "Folder for the SQLite database and the generated secret key (made mode 700, the files in it 600).",
    )
    database_url: str = _setting(
        "", "SQLAlchemy URL. Empty: SQLite in the data folder. PostgreSQL: postgresql+asyncpg://user@host/db."
    )
    host: str = _setting("127.0.0.1", "Address the server listens on.")
    port: int = _setting(8080, "Port the server listens on.")
    base_url: str = _setting(
        "http://127.0.0.1:8080", "Public address of the service; used in personal links and the Origin allow-list."
    )
    extra_origins: str = _setting(
        "",
        "More origins allowed to post forms and open call sockets, comma-separated (https://host[:port]). "
        "Empty: only VB_BASE_URL's.",
    )
    secret_key: str = _setting(
        "", "Secret for CSRF tokens. Empty: generated once and kept in the data folder (file mode 600)."
    )
    staff_mfa: str = _setting(
        "required", "Second factor (TOTP) for staff: required, or optional (demo only).", ("required", "optional")
    )
    session_idle_minutes: int = _setting(30, "Staff sessions end after this many minutes without activity.")
    session_absolute_hours: int = _setting(10, "Staff sessions end this many hours after login, active or not.")
    citizen_session_days: int = _setting(
        180, "A citizen's device stays signed in this many days after opening the link."
    )
    login_max_failures_account: int = _setting(5, "Failed logins per account within the window before it is throttled.")
    login_max_failures_ip: int = _setting(
        20, "Failed logins per client address within the window before it is throttled."
    )
    login_window_minutes: int = _setting(15, "Window for counting failed logins.")
    trust_forwarded_for: bool = _setting(
        False, "Take the client address from X-Forwarded-For (only behind a trusted reverse proxy)."
    )
    default_locale: str = _setting("da", "Language shown when the user has not chosen one.", ("da", "en"))
    log_level: str = _setting("INFO", "Log level.", ("DEBUG", "INFO", "WARNING", "ERROR"))
    smtp_host: str = _setting("", "SMTP server for e-mail reminders and notices. Empty: no e-mail is sent.")
    smtp_port: int = _setting(25, "SMTP server port.")
    smtp_username: str = _setting("", "SMTP login name. Empty: no login.")
    smtp_password: str = _setting("", "SMTP password.")
    smtp_starttls: bool = _setting(False, "Upgrade the SMTP connection with STARTTLS.")
    mail_from: str = _setting("Virtuel Bostøtte <noreply@localhost>", "Sender of e-mail reminders and notices.")
    sms_gateway_url: str = _setting(
        "", "SMS gateway endpoint (JSON over HTTPS, see docs/reminders.md). Empty: no SMS is sent."
    )
    sms_gateway_token: str = _setting("", "Bearer token for the SMS gateway.")
    sms_sender: str = _setting("Bostotte", "Sender name shown on SMS messages.")
    outbox_worker: bool = _setting(True, "Send reminders and notices from this server process.")
    outbox_poll_seconds: int = _setting(5, "Seconds between looks for due messages in the outbox.")
    outbox_lease_seconds: int = _setting(
        120, "Seconds a sender may hold a message before another sender takes it over; longer than a send can take."
    )
    redis_url: str = _setting(
        "", "Redis for signalling between several server processes (redis://host:6379/0). Empty: one process."
    )
    call_opens_minutes: int = _setting(15, "A video session's call opens this many minutes before its start.")
    call_closes_minutes: int = _setting(60, "A video session's call closes this many minutes after its planned end.")
    stun_urls: str = _setting("", "STUN servers for calls, comma-separated (stun:stun.example.dk:3478). Empty: none.")
    turn_urls: str = _setting(
        "", "TURN servers for calls, comma-separated (turn:turn.example.dk:3478?transport=udp,turns:…:5349)."
    )
    turn_secret: str = _setting("", "Shared secret with coturn (static-auth-secret) for short-lived TURN credentials.")
    turn_ttl_seconds: int = _setting(
        18900,
        "Longest a call participant's TURN credentials stay valid; they end when the call closes. Default: "
        "15 minutes before a 4-hour session until 60 minutes after it.",
    )
    # --- operations (docs/deployment.md) ---
    redis_prefix: str = _setting(
        "vb", "Prefix of every Redis key and channel, so several installations can share one Redis."
    )
    log_format: str = _setting(
        "text", "Log lines as text (for people) or json (one object per line, for a log collector).", ("text", "json")
    )
    event_loop: str = _setting(
        "uvloop",
        "The server's event loop: uvloop (faster sockets: call signalling, pages) or asyncio (the standard library's).",
        ("uvloop", "asyncio"),
    )
    metrics_allow: str = _setting(
        "127.0.0.1/32,::1/128", "Client networks (comma-separated CIDR) that may read /metrics without a token."
    )
    metrics_token: str = _setting("", "Bearer token that also opens /metrics (Authorization: Bearer …). Empty: none.")
    dependency_timeout_seconds: int = _setting(
        2, "Seconds to wait for a database or Redis connection before the request fails with 503."
    )
    retention_call_events_days: int = _setting(
        400, "Days call events (the session log) are kept; `vbostotte retention`."
    )
    retention_outbox_days: int = _setting(400, "Days finished outbox rows (sent, dropped, failed) are kept.")
    retention_login_failures_days: int = _setting(30, "Days failed-login records (throttling) are kept.")
    retention_sessions_days: int = _setting(7, "Days expired sessions and used or expired call tickets are kept.")
    audit_key: str = _setting(
        "",
        "HMAC key of the audit and consent hash chains, id:secret (secret at least 32 characters). Empty: "
        "generated once and kept in the data folder (audit_keys, file mode 600). Never stored in the database.",
    )
    audit_retired_keys: str = _setting(
        "", "Earlier audit keys (id:secret, comma-separated), used only to verify the entries made with them."
    )
    audit_anchor_minutes: int = _setting(
        15,
        "Minutes between anchors of the audit and consent chains' heads (audit_anchors.jsonl in the data "
        "folder, and the log); also at start and shutdown.",
    )

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to SQLite in the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'vbostotte.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def https(self) -> bool:
        return self.base_url.startswith("https://")

    def with_secret(self) -> Settings:
        """Return settings with a secret key, creating and keeping one in the data folder if none was set."""
        if self.secret_key:
            return self
        private_files.folder(self.data_dir)
        path = self.data_dir / "secret_key"
        if private_files.create(path):  # mode 0600 before anything is written to it
            path.write_text(secrets.token_urlsafe(48))
        return dataclasses.replace(self, secret_key=path.read_text().strip())


def setting_docs() -> list[tuple[str, str, str]]:
    """(variable name, default, help) for every setting, in declaration order."""
    rows = []
    for f in fields(Settings):
        default = f.default
        shown = "" if default == "" else str(default).lower() if isinstance(default, bool) else str(default)
        rows.append((PREFIX + f.name.upper(), shown, f.metadata["help"]))
    return rows


def _convert(name: str, raw: str, kind: Any, choices: tuple[str, ...] | None) -> Any:
    if kind in (bool, "bool"):
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
        raise SettingsError(f"{name}: expected true or false, got {raw!r}")
    if kind in (int, "int"):
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name}: expected a whole number, got {raw!r}") from None
        if value <= 0:
            raise SettingsError(f"{name}: must be positive")
        return value
    if kind in (Path, "Path"):
        return Path(raw)
    if choices and raw not in choices:
        raise SettingsError(f"{name}: must be one of {', '.join(choices)}, got {raw!r}")
    return raw


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build settings from ``VB_*`` variables (and keyword overrides, which win)."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in fields(Settings):
        name = PREFIX + f.name.upper()
        if name in environ:
            values[f.name] = _convert(name, environ[name], f.type, f.metadata["choices"])
    values.update(overrides)
    return Settings(**values)
