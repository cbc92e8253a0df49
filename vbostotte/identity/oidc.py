"""Staff sign in with the municipality's own OpenID Connect provider (Entra ID, AD FS, an identity broker).

The authorization code flow with PKCE (S256), ``state`` and ``nonce`` (OpenID Connect Core 1.0 §3.1), through
Authlib: ``AsyncOAuth2Client`` builds the authorization URL and exchanges the code; ``joserfc`` (Authlib's JOSE
library) checks the ID token — its signature against the provider's JWKS (fetched again once when a token names a
key the cached set lacks: key rotation), ``iss``, ``aud`` (and ``azp``), ``exp``/``iat`` with a small leeway, and
the ``nonce`` of this very sign-in. Token times are checked against the wall clock (``time.time()``), never the
app's injectable clock: the provider made them with its own (docs/architecture.md, "Two clocks").

A sign-in under way is a row of ``oidc_logins``, found by the hash of its ``state`` and bound to the browser by a
cookie; the callback deletes it before anything else, so a state, a nonce and a code verifier serve once.

Mapping to a staff member (per municipality, :class:`OidcProvider`): by the stable subject (``sub``) bound at the
first sign-in, which may match by the provider's *verified* e-mail when the administrator allows it. The role comes
from a configured group/role claim (a person in none of the configured groups is refused, so someone removed from
the group loses access at the next sign-in) or is managed in the app. Just-in-time creation is off unless turned
on. Refusals get one plain message and an audit entry (``auth.oidc_login``, denied, with the reason as
``object_type``); nothing personal is logged, and the client secret never is.

Second factor: an ``acr`` or ``amr`` value the administrator counts as strong authentication signs the person in;
otherwise the session waits for the local TOTP code (or its enrolment), exactly as after the password step.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import secrets
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode, urlparse

import httpx2 as httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from vbostotte import audit
from vbostotte.actors import Actor
from vbostotte.config import Settings
from vbostotte.errors import DomainError, InvalidInput, PermissionDenied
from vbostotte.i18n import N_
from vbostotte.identity import login, sessions
from vbostotte.models import Municipality, OidcLogin, OidcProvider, Staff, StaffRole, WebSession

log = logging.getLogger(__name__)

CALLBACK_PATH = "/login/sso/callback"
FLOW_COOKIE = "vb_oidc"  # binds a sign-in under way to the browser that started it
FLOW_MINUTES = 10  # a sign-in under way expires after this long
LEEWAY_SECONDS = 60  # clock skew allowed on exp/iat/nbf
ALGORITHMS = ["RS256", "PS256", "ES256"]  # what OpenID providers sign ID tokens with (never "none", never HS*)
DISCOVERY_TTL = 3600.0  # seconds a discovery document and a JWKS are kept
JWKS_REFETCH_AFTER = 10.0  # an unknown key id fetches the JWKS again, at most this often (seconds)
HTTP_TIMEOUT = 10.0
SECRET_PREFIX = "v1:"
AUDIT_ACTION = "auth.oidc_login"


class Refusal(StrEnum):
    """Why a sign-in through the provider was refused (the audit entry's ``object_type``; never personal data)."""

    NOT_CONFIGURED = "oidc_not_configured"
    STATE = "oidc_state"  # unknown, used or expired state, or another browser's
    PROVIDER_ERROR = "oidc_provider_error"  # the provider answered with an error, or the code exchange failed
    TOKEN = "oidc_token"  # the ID token is not valid (signature, iss, aud, exp, iat, nonce)
    UNKNOWN = "oidc_unknown_person"
    DEACTIVATED = "oidc_deactivated"
    NO_GROUP = "oidc_no_group"


class SsoFailed(DomainError):
    """The sign-in through the provider did not go through (state, token, provider): the person may try again."""

    message = N_("Signing in with your municipality's login did not work. Please try again.")


class SsoRefused(DomainError):
    """The provider knows the person, but this service does not let them in (unknown, deactivated, no group)."""

    message = N_("You cannot sign in to Virtuel Bostøtte with this login. Ask your administrator to give you access.")


# --- The client secret, sealed at rest -------------------------------------------------------------------------


def _secret_key(settings: Settings) -> bytes:
    """An AES-256 key for client secrets, derived from the server's secret key (kept outside the database)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"vbostotte oidc client secret").derive(
        settings.secret_key.encode()
    )


def seal_secret(secret: str, settings: Settings) -> str:
    """The client secret encrypted (AES-GCM) for the database; empty stays empty."""
    if not secret:
        return ""
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(_secret_key(settings)).encrypt(nonce, secret.encode(), b"oidc-client-secret")
    return SECRET_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()


def open_secret(sealed: str, settings: Settings) -> str:
    """The client secret back; empty when none is stored or it cannot be opened (the secret key changed)."""
    if not sealed.startswith(SECRET_PREFIX):
        return ""
    raw = base64.urlsafe_b64decode(sealed[len(SECRET_PREFIX) :])
    try:
        return AESGCM(_secret_key(settings)).decrypt(raw[:12], raw[12:], b"oidc-client-secret").decode()
    except InvalidTag:
        log.warning("an OpenID client secret cannot be opened with this server's secret key; set it again")
        return ""


# --- The administrator's settings ------------------------------------------------------------------------------


def _words(value: str) -> set[str]:
    return {word for word in value.replace(",", " ").split() if word}


def issuer_allowed(issuer: str) -> bool:
    """An https issuer; plain http only on the loopback (a provider on the same machine, as in the tests)."""
    parsed = urlparse(issuer)
    if parsed.scheme == "https" and parsed.hostname:
        return True
    return parsed.scheme == "http" and parsed.hostname in ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class ProviderForm:
    """What the administrator submits. ``client_secret`` empty keeps the stored one."""

    enabled: bool
    issuer: str
    client_id: str
    client_secret: str = ""
    scopes: str = "openid email profile"
    match_email: bool = True
    role_claim: str = ""
    worker_groups: str = ""
    supervisor_groups: str = ""
    admin_groups: str = ""
    strong_acr: str = ""
    strong_amr: str = ""
    jit_create: bool = False
    password_login: bool = True


async def provider_of(db: AsyncSession, municipality_id: int) -> OidcProvider | None:
    return await db.get(OidcProvider, municipality_id)


async def settings_for_admin(db: AsyncSession, actor: Actor) -> OidcProvider:
    """The municipality's provider settings for its administrator (a blank one when none is saved yet)."""
    _require_admin(actor)
    found = await provider_of(db, actor.known_municipality_id)
    return found or OidcProvider(municipality_id=actor.known_municipality_id, scopes="openid email profile")


def _require_admin(actor: Actor) -> None:
    if not actor.has_role(StaffRole.ADMIN):
        raise PermissionDenied()


async def save_settings(
    db: AsyncSession, actor: Actor, form: ProviderForm, settings: Settings, now: dt.datetime
) -> OidcProvider:
    """Save the administrator's provider settings (checked; the secret sealed). Raises InvalidInput."""
    _require_admin(actor)
    errors: dict[str, str] = {}
    issuer = form.issuer.strip().rstrip("/")
    if form.enabled and not issuer_allowed(issuer):
        errors["issuer"] = N_("Give the provider's address, starting with https://.")
    if form.enabled and not form.client_id.strip():
        errors["client_id"] = N_("Give the client ID the provider gave this service.")
    if "openid" not in _words(form.scopes):
        errors["scopes"] = N_("The scopes must include openid.")
    if not form.password_login and not form.enabled:
        errors["password_login"] = N_("Password login can only be turned off when the municipality's login is on.")
    row = await provider_of(db, actor.known_municipality_id)
    if row is None:
        row = OidcProvider(municipality_id=actor.known_municipality_id)
        db.add(row)
    if form.enabled and not form.client_secret and not row.client_secret_enc:
        errors["client_secret"] = N_("Give the client secret the provider gave this service.")
    if errors:
        raise InvalidInput(errors)
    row.enabled, row.issuer, row.client_id = form.enabled, issuer, form.client_id.strip()
    if form.client_secret:
        row.client_secret_enc = seal_secret(form.client_secret.strip(), settings)
    row.scopes = " ".join(sorted(_words(form.scopes), key=lambda s: (s != "openid", s)))
    row.match_email, row.role_claim = form.match_email, form.role_claim.strip()
    row.worker_groups, row.supervisor_groups = form.worker_groups.strip(), form.supervisor_groups.strip()
    row.admin_groups, row.strong_acr, row.strong_amr = (
        form.admin_groups.strip(),
        form.strong_acr.strip(),
        form.strong_amr.strip(),
    )
    row.jit_create, row.password_login, row.updated_at = form.jit_create, form.password_login, now
    await db.flush()
    await audit.record(
        db, actor, audit.AuditEvent("admin.oidc_settings", audit.Purpose.ADMINISTRATION, object_type="oidc_provider")
    )
    return row


async def sign_in_options(db: AsyncSession) -> list[tuple[int, str]]:
    """(municipality id, name) of every municipality whose staff can sign in with its own provider."""
    rows = await db.execute(
        select(Municipality.id, Municipality.name)
        .join(OidcProvider, OidcProvider.municipality_id == Municipality.id)
        .where(OidcProvider.enabled.is_(True))
        .order_by(Municipality.name)
    )
    return [(mid, name) for mid, name in rows.all()]


async def password_login_allowed(db: AsyncSession, staff: Staff) -> bool:
    provider = await provider_of(db, staff.municipality_id)
    return provider is None or not provider.enabled or provider.password_login


# --- Discovery and keys (public documents, kept a while per issuer) --------------------------------------------


@dataclass
class _Cached:
    document: dict[str, Any]
    fetched_at: float


@dataclass
class ProviderCache:
    """Discovery documents and JWKS by issuer. Public data; times on the wall clock (the provider's own rules)."""

    discovery: dict[str, _Cached] = field(default_factory=dict)
    jwks: dict[str, _Cached] = field(default_factory=dict)


async def _get_json(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT, follow_redirects=False) as client:
        response = await client.get(url, headers={"Accept": "application/json"})
        response.raise_for_status()
        document = response.json()
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    return document


async def discover(cache: ProviderCache, issuer: str) -> dict[str, Any]:
    """The provider's discovery document (its ``issuer`` must be the configured one exactly)."""
    cached = cache.discovery.get(issuer)
    if cached is not None and time.time() - cached.fetched_at < DISCOVERY_TTL:
        return cached.document
    document = await _get_json(issuer + "/.well-known/openid-configuration")
    if document.get("issuer") != issuer:
        raise ValueError("the discovery document names another issuer")
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(document.get(key), str):
            raise ValueError(f"the discovery document has no {key}")
    cache.discovery[issuer] = _Cached(document, time.time())
    return document


async def _keys(cache: ProviderCache, jwks_uri: str, *, refresh: bool = False) -> KeySet:
    cached = cache.jwks.get(jwks_uri)
    age = time.time() - cached.fetched_at if cached else None
    if cached is None or age is None or age >= DISCOVERY_TTL or (refresh and age >= JWKS_REFETCH_AFTER):
        cached = _Cached(await _get_json(jwks_uri), time.time())
        cache.jwks[jwks_uri] = cached
    return KeySet.import_key_set(cached.document)  # type: ignore[arg-type]


# --- The flow -----------------------------------------------------------------------------------------------------


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def redirect_uri(settings: Settings) -> str:
    return settings.base_url.rstrip("/") + CALLBACK_PATH


def _client(provider: OidcProvider, settings: Settings) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        client_id=provider.client_id,
        client_secret=open_secret(provider.client_secret_enc, settings),
        scope=provider.scopes,
        redirect_uri=redirect_uri(settings),
        code_challenge_method="S256",
        timeout=HTTP_TIMEOUT,
    )


@dataclass(frozen=True)
class Start:
    """Where to send the browser, and the cookie binding this sign-in to it."""

    url: str
    browser_token: str


async def start(
    db: AsyncSession, cache: ProviderCache, municipality_id: int, settings: Settings, now: dt.datetime
) -> Start:
    """Begin a sign-in through the municipality's provider: a fresh state, nonce and PKCE verifier, kept server-side."""
    provider = await provider_of(db, municipality_id)
    if provider is None or not provider.enabled:
        raise SsoFailed()
    try:
        document = await discover(cache, provider.issuer)
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("OpenID discovery failed for municipality %s: %s", municipality_id, type(exc).__name__)
        raise SsoFailed() from exc
    await db.execute(delete(OidcLogin).where(OidcLogin.expires_at <= now))
    state, nonce, verifier, browser = (secrets.token_urlsafe(32) for _ in range(4))
    verifier += secrets.token_urlsafe(16)  # 64+ characters (RFC 7636 §4.1: 43 to 128)
    db.add(
        OidcLogin(
            state_hash=_hash(state),
            browser_hash=_hash(browser),
            municipality_id=municipality_id,
            nonce=nonce,
            code_verifier=verifier,
            created_at=now,
            expires_at=now + dt.timedelta(minutes=FLOW_MINUTES),
        )
    )
    await db.flush()
    async with _client(provider, settings) as client:
        url, _ = client.create_authorization_url(
            document["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier
        )
    return Start(url, browser)


@dataclass(frozen=True)
class Claims:
    """What a valid ID token says about the person."""

    values: dict[str, Any]

    @property
    def subject(self) -> str:
        return str(self.values["sub"])


def _audience_ok(claims: dict[str, Any], client_id: str) -> bool:
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else list(aud) if isinstance(aud, list) else []
    if client_id not in audiences:
        return False
    return len(audiences) == 1 or claims.get("azp") == client_id  # several audiences: we must be the party


async def validate_id_token(
    cache: ProviderCache, document: dict[str, Any], id_token: str, client_id: str, nonce: str
) -> Claims:
    """Check an ID token (signature through the JWKS, iss, aud/azp, exp, iat, nbf, nonce). Raises SsoFailed."""
    try:
        keys = await _keys(cache, document["jwks_uri"])
        try:
            token = jwt.decode(id_token, keys, algorithms=ALGORITHMS)
        except InvalidKeyIdError:  # a key the cached set lacks: the provider may have rotated its keys
            token = jwt.decode(id_token, await _keys(cache, document["jwks_uri"], refresh=True), algorithms=ALGORITHMS)
        registry = jwt.JWTClaimsRegistry(
            leeway=LEEWAY_SECONDS,  # now: the wall clock (joserfc's default, time.time())
            iss={"essential": True, "value": document["issuer"]},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        registry.validate(token.claims)
    except (JoseError, ValueError, httpx.HTTPError) as exc:
        raise SsoFailed().then(_refusal_audit(None, Refusal.TOKEN)) from exc
    if not _audience_ok(token.claims, client_id):
        raise SsoFailed().then(_refusal_audit(None, Refusal.TOKEN))
    if not isinstance(token.claims.get("sub"), str) or not token.claims["sub"]:
        raise SsoFailed().then(_refusal_audit(None, Refusal.TOKEN))
    return Claims(token.claims)


def _refusal_audit(actor: Actor | None, reason: Refusal, municipality_id: int | None = None) -> Any:
    """Work for after the rollback: the denied sign-in's audit entry (kind of refusal only, nothing personal)."""
    who = actor or Actor(kind="anonymous", municipality_id=municipality_id)

    async def write(fresh: AsyncSession) -> None:
        await audit.record(
            fresh,
            who,
            audit.AuditEvent(AUDIT_ACTION, audit.Purpose.AUTHENTICATION, audit.DENIED, object_type=reason.value),
        )

    return write


def _role_from(claims: Claims, provider: OidcProvider) -> StaffRole | None:
    """The highest role whose configured groups the claim names; None when it names none of them."""
    raw = claims.values.get(provider.role_claim)
    values = {raw} if isinstance(raw, str) else {str(v) for v in raw} if isinstance(raw, list) else set()
    for role, groups in (
        (StaffRole.ADMIN, provider.admin_groups),
        (StaffRole.SUPERVISOR, provider.supervisor_groups),
        (StaffRole.WORKER, provider.worker_groups),
    ):
        if values & _words(groups):
            return role
    return None


def strong_authentication(claims: Claims, provider: OidcProvider) -> bool:
    """Whether the provider asserts authentication the municipality counts as strong (then no local TOTP)."""
    acr = claims.values.get("acr")
    amr = claims.values.get("amr")
    methods = {str(m) for m in amr} if isinstance(amr, list) else set()
    return (isinstance(acr, str) and acr in _words(provider.strong_acr)) or bool(methods & _words(provider.strong_amr))


async def _match_staff(
    db: AsyncSession, provider: OidcProvider, claims: Claims, now: dt.datetime
) -> tuple[Staff, bool]:
    """The staff member this login is (subject first; then a verified e-mail, binding the subject), or a new one
    (just-in-time creation, when on). Returns (staff, created). Raises SsoRefused."""
    mid = provider.municipality_id
    staff = (
        await db.execute(select(Staff).where(Staff.municipality_id == mid, Staff.oidc_subject == claims.subject))
    ).scalar_one_or_none()
    if staff is not None:
        return staff, False
    email = claims.values.get("email")
    # OpenID's email_verified; Entra ID sends none, but xms_edov (the e-mail's domain verified by the tenant)
    verified = claims.values.get("email_verified") is True or claims.values.get("xms_edov") is True
    if provider.match_email and verified and isinstance(email, str) and email:
        staff = (
            await db.execute(
                select(Staff).where(
                    Staff.municipality_id == mid,
                    Staff.email == login.normalise_email(email),
                    Staff.oidc_subject.is_(None),
                )
            )
        ).scalar_one_or_none()
        if staff is not None:
            staff.oidc_subject = claims.subject
            return staff, False
    if provider.jit_create and verified and isinstance(email, str) and email:
        taken = (await db.execute(select(Staff.id).where(Staff.email == login.normalise_email(email)))).first()
        if taken is None:
            name = claims.values.get("name")
            staff = Staff(
                municipality_id=mid,
                email=login.normalise_email(email),
                name=(name if isinstance(name, str) and name.strip() else email)[:100],
                role=StaffRole.WORKER,
                password_hash="!",  # no local password: an unusable hash (argon2 refuses it)
                oidc_subject=claims.subject,
                active=True,
                created_at=now,
            )
            db.add(staff)
            await db.flush()
            return staff, True
    raise SsoRefused().then(_refusal_audit(None, Refusal.UNKNOWN, mid))


@dataclass(frozen=True)
class Callback:
    """The provider's redirect back: its query parameters, and the browser's flow cookie."""

    state: str
    code: str
    error: str
    browser_token: str


async def finish(
    db: AsyncSession,
    cache: ProviderCache,
    callback: Callback,
    previous: str | None,
    settings: Settings,
    now: dt.datetime,
) -> login.Step:
    """The callback: check the state belongs to this browser (and use it up), exchange the code, validate the ID
    token, map it to a staff member and start the session (signed in, or waiting for the TOTP code).
    Raises SsoFailed or SsoRefused (their audit entry written after the rollback)."""
    flow = await db.get(OidcLogin, _hash(callback.state)) if callback.state else None
    if flow is not None:
        await db.delete(flow)
        await db.flush()
    if (
        flow is None
        or flow.expires_at <= now
        or not callback.browser_token
        or not secrets.compare_digest(flow.browser_hash, _hash(callback.browser_token))
    ):
        # the used-up flow is deleted whatever happens next: a refused state cannot be tried again
        raise SsoFailed().then(_consume(flow)).then(_refusal_audit(None, Refusal.STATE))
    provider = await provider_of(db, flow.municipality_id)
    if provider is None or not provider.enabled:
        raise SsoFailed().then(_consume(flow)).then(_refusal_audit(None, Refusal.NOT_CONFIGURED, flow.municipality_id))
    if callback.error or not callback.code:
        raise SsoFailed().then(_consume(flow)).then(_refusal_audit(None, Refusal.PROVIDER_ERROR, flow.municipality_id))
    try:
        document = await discover(cache, provider.issuer)
        async with _client(provider, settings) as client:
            token = await client.fetch_token(
                document["token_endpoint"], code=callback.code, code_verifier=flow.code_verifier
            )
    except Exception as exc:  # noqa: BLE001 - whatever the provider or the network did, the sign-in failed
        log.warning("OpenID code exchange failed for municipality %s: %s", flow.municipality_id, type(exc).__name__)
        raise (
            SsoFailed().then(_consume(flow)).then(_refusal_audit(None, Refusal.PROVIDER_ERROR, flow.municipality_id))
        ) from exc
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise SsoFailed().then(_consume(flow)).then(_refusal_audit(None, Refusal.TOKEN, flow.municipality_id))
    try:
        claims = await validate_id_token(cache, document, id_token, provider.client_id, flow.nonce)
    except SsoFailed as exc:
        raise exc.then(_consume(flow)) from None
    try:
        return await sign_in(db, provider, claims, id_token, previous, settings, now)
    except DomainError as exc:
        raise exc.then(_consume(flow)) from None


def _consume(flow: OidcLogin | None) -> Any:
    """Work for after the rollback: delete the sign-in under way again (the rollback brought it back)."""
    state_hash = flow.state_hash if flow is not None else None

    async def work(fresh: AsyncSession) -> None:
        if state_hash is not None:
            await fresh.execute(delete(OidcLogin).where(OidcLogin.state_hash == state_hash))

    return work


async def sign_in(
    db: AsyncSession,
    provider: OidcProvider,
    claims: Claims,
    id_token: str,
    previous: str | None,
    settings: Settings,
    now: dt.datetime,
) -> login.Step:
    """A valid ID token of the municipality's provider: the staff member's new session (or a refusal)."""
    staff, created = await _match_staff(db, provider, claims, now)
    if not staff.active:
        raise SsoRefused().then(_refusal_audit(login.staff_actor(staff), Refusal.DEACTIVATED))
    if provider.role_claim:
        role = _role_from(claims, provider)
        if role is None:
            raise SsoRefused().then(_refusal_audit(login.staff_actor(staff), Refusal.NO_GROUP))
        staff.role = role
    if created:
        await audit.record(
            db,
            login.staff_actor(staff),
            audit.AuditEvent(
                "auth.oidc_created", audit.Purpose.AUTHENTICATION, object_type="staff", object_id=staff.id
            ),
            clock=lambda: now,
        )
    await sessions.end(db, previous)
    strong = strong_authentication(claims, provider)
    if strong or not login.totp_required(staff, settings):
        await login.login_succeeded(db, staff, now)
        token = await sessions.start_staff_session(db, staff.id, settings, now, mfa_passed=True)
        next_step = login.Next.IN
    else:  # the provider did not assert strong authentication: the local TOTP code is still asked
        token = await sessions.start_staff_session(db, staff.id, settings, now, mfa_passed=False)
        next_step = login.Next.CODE if staff.totp_secret else login.Next.ENROL
    session = await db.get(WebSession, sessions.token_hash(token))
    assert session is not None
    session.oidc_id_token = id_token
    return login.Step(token, next_step)


# --- Logout at the provider too (RP-initiated logout) ---------------------------------------------------------


async def logout_url(
    db: AsyncSession, cache: ProviderCache, session: WebSession | None, settings: Settings, after: str
) -> str | None:
    """Where to send the browser so the provider ends its session too: its ``end_session_endpoint`` with the ID
    token as hint and ``after`` to come back to; None when the session did not come from the provider, or the
    provider offers no RP-initiated logout. Read before the session is ended."""
    if session is None or session.staff_id is None or not session.oidc_id_token:
        return None
    staff = await db.get(Staff, session.staff_id)
    provider = await provider_of(db, staff.municipality_id) if staff else None
    if provider is None or not provider.enabled:
        return None
    try:
        endpoint = (await discover(cache, provider.issuer)).get("end_session_endpoint")
    except (httpx.HTTPError, ValueError):
        return None
    if not isinstance(endpoint, str) or not endpoint:
        return None
    query = urlencode(
        {"id_token_hint": session.oidc_id_token, "post_logout_redirect_uri": after, "client_id": provider.client_id}
    )
    return endpoint + ("&" if "?" in endpoint else "?") + query
