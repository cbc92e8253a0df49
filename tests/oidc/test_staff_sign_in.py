"""Staff sign in with the municipality's own OpenID provider (issue 15), against a real one: the certified npm
`oidc-provider` (tests/oidc/provider.mjs). The flow is driven over HTTP like a browser (the provider's own login
page, its redirects, the app's callback); the negative cases use the provider's real tokens, tokens signed with its
key, and tokens signed with a key it does not have."""

from __future__ import annotations

import re
import time
from html import unescape
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import select

from vbostotte.identity import oidc
from vbostotte.models import AuditEntry, OidcLogin, OidcProvider, Staff, StaffRole, WebSession

from openid_provider import CLIENT_ID, CLIENT_SECRET, STRONG, new_key, sign_in_at_provider, start_provider
from support import reread, text_of

REFUSED = "Du kan ikke logge ind i Virtuel Bostøtte med dette login"
FAILED = "Det lykkedes ikke at logge ind med kommunens login"


@pytest.fixture
def provider(tmp_path, settings, world):
    op = start_provider(tmp_path, settings.base_url, world.a.worker.email.split("@")[1])
    yield op
    op.stop()


async def configure(db, world, settings, clock, provider, **changes) -> None:
    """Municipality A signs in with the provider: role from the groups claim, the test's strong acr."""
    form = {
        "enabled": True,
        "issuer": provider.issuer,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "scopes": "openid email profile groups",
        "role_claim": "groups",
        "worker_groups": "vb-workers",
        "supervisor_groups": "vb-supervisors",
        "admin_groups": "vb-admins",
        "strong_acr": STRONG,
        **changes,
    }
    await oidc.save_settings(db, world.a.admin.actor, oidc.ProviderForm(**form), settings.with_secret(), clock())
    await db.commit()


@pytest.fixture
async def sso(db, world, settings, clock, provider):
    await configure(db, world, settings, clock, provider)
    return provider


async def start(web, world) -> str:
    """The app's redirect to the provider (its authorization URL)."""
    response = await web.get(f"/login/sso/{world.a.id}")
    assert response.status == 303, await response.text()
    return response.headers["Location"]


async def sign_in(web, world, login: str):
    """The whole flow: the app, the provider's login page, the app's callback. Returns the callback's response."""
    back = await sign_in_at_provider(await start(web, world), login)
    parsed = urlparse(back)
    assert parsed.path == "/login/sso/callback", back
    return await web.get(f"{parsed.path}?{parsed.query}")


def provider_email(world, local: str) -> str:
    return f"{local}@{world.a.worker.email.split('@')[1]}"


async def denials(db, reason: str) -> list[AuditEntry]:
    await reread(db)
    rows = await db.execute(
        select(AuditEntry).where(AuditEntry.action == oidc.AUDIT_ACTION, AuditEntry.object_type == reason)
    )
    return list(rows.scalars())


async def test_the_authorization_request_uses_pkce_state_and_nonce(web, world, sso, db):
    url = await start(web, world)
    query = parse_qs(urlparse(url).query)
    assert url.startswith(sso.issuer + "/auth?")
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert query["client_id"] == [CLIENT_ID] and query["response_type"] == ["code"]
    assert query["redirect_uri"] == ["http://127.0.0.1/login/sso/callback"]
    assert len(query["state"][0]) >= 32 and len(query["nonce"][0]) >= 32
    await reread(db)
    (flow,) = (await db.execute(select(OidcLogin))).scalars()
    assert flow.nonce == query["nonce"][0]
    assert query["state"][0] not in flow.state_hash  # only its hash is kept


async def test_strong_login_signs_in_binds_the_subject_and_takes_the_role_from_the_group(web, world, sso, db):
    response = await sign_in(web, world, "worker")
    assert response.status == 303 and response.headers["Location"] == "/"
    assert (await web.get("/worker")).status == 200
    await reread(db)
    staff = await db.get(Staff, world.a.worker.id)
    assert staff.oidc_subject == "worker" and staff.role == StaffRole.WORKER
    (session,) = (await db.execute(select(WebSession).where(WebSession.staff_id == staff.id))).scalars()
    assert session.mfa_passed and session.oidc_id_token
    assert (await db.execute(select(OidcLogin))).first() is None  # the state is used up


async def test_after_binding_the_subject_counts_not_the_email(web, other_web, world, sso, db):
    assert (await sign_in(web, world, "worker")).headers["Location"] == "/"
    sso.set_user("worker", email="renamed@elsewhere.example.dk")  # the e-mail changes at the provider
    response = await sign_in(other_web, world, "worker")
    assert response.headers["Location"] == "/"
    assert (await other_web.get("/worker")).status == 200


async def test_weak_login_still_asks_for_the_totp_code(web, world, sso, db):
    response = await sign_in(web, world, "weak")
    assert response.status == 303 and response.headers["Location"] == "/login/code"
    assert (await web.get("/worker")).status in (302, 303, 401)  # not in yet
    response = await web.post("/login/code", {"code": world.a.other_worker.code(web.clock)})
    assert response.status == 303 and response.headers["Location"] == "/"
    assert (await web.get("/worker")).status == 200


async def test_unknown_person_is_refused_with_a_plain_message_and_audited(web, world, sso, db):
    response = await sign_in(web, world, "stranger")
    assert response.status == 403
    assert REFUSED in text_of(await response.text())
    assert len(await denials(db, oidc.Refusal.UNKNOWN)) == 1
    await reread(db)
    stranger = select(Staff).where(Staff.email == provider_email(world, "new-person"))
    assert (await db.execute(stranger)).first() is None


async def test_an_unverified_email_does_not_match(web, world, sso, db):
    response = await sign_in(web, world, "unverified")  # the administrator's e-mail, but email_verified false
    assert response.status == 403
    assert len(await denials(db, oidc.Refusal.UNKNOWN)) == 1


async def test_just_in_time_creation_when_turned_on(web, world, settings, clock, provider, db):
    await configure(db, world, settings, clock, provider, jit_create=True)
    response = await sign_in(web, world, "stranger")
    assert response.headers["Location"] == "/"
    await reread(db)
    created = (await db.execute(select(Staff).where(Staff.email == provider_email(world, "new-person")))).scalar_one()
    assert created.municipality_id == world.a.id and created.role == StaffRole.WORKER
    assert created.oidc_subject == "stranger"


async def test_a_deactivated_person_is_refused(web, world, sso, db):
    staff = await db.get(Staff, world.a.worker.id)
    staff.active = False
    await db.commit()
    response = await sign_in(web, world, "worker")
    assert response.status == 403 and REFUSED in text_of(await response.text())
    assert len(await denials(db, oidc.Refusal.DEACTIVATED)) == 1


async def test_a_person_removed_from_the_group_loses_access(web, other_web, world, settings, sso, db, clock):
    assert (await sign_in(web, world, "supervisor")).headers["Location"] == "/"
    assert (await web.get("/supervisor")).status == 200
    sso.set_user("supervisor", groups=["someone-else"])
    response = await sign_in(other_web, world, "supervisor")  # the next sign-in
    assert response.status == 403 and REFUSED in text_of(await response.text())
    assert len(await denials(db, oidc.Refusal.NO_GROUP)) == 1
    clock.advance(minutes=settings.session_idle_minutes + 1)  # the open session ends by the session rules
    assert (await web.get("/supervisor")).status in (302, 303, 401)


async def test_the_role_follows_the_group(web, world, sso, db):
    sso.set_user("worker", groups=["vb-supervisors", "vb-workers"])
    assert (await sign_in(web, world, "worker")).headers["Location"] == "/"
    await reread(db)
    assert (await db.get(Staff, world.a.worker.id)).role == StaffRole.SUPERVISOR


async def test_a_mismatched_state_is_refused(web, other_web, world, sso, db):
    back = await sign_in_at_provider(await start(web, world), "worker")
    parsed = urlparse(back)
    # Another browser (without the cookie of the sign-in it started) brings the code back: refused.
    response = await other_web.get(f"{parsed.path}?{parsed.query}")
    assert response.status == 400 and FAILED in text_of(await response.text())
    # The state is used up: the right browser cannot use it afterwards either.
    response = await web.get(f"{parsed.path}?{parsed.query}")
    assert response.status == 400
    # A state the app never gave.
    query = parse_qs(parsed.query)
    response = await web.get(f"/login/sso/callback?state=forged&code={query['code'][0]}")
    assert response.status == 400
    assert len(await denials(db, oidc.Refusal.STATE)) == 3


async def test_a_replayed_callback_and_a_replayed_nonce_are_refused(web, world, sso, db, settings):
    back = await sign_in_at_provider(await start(web, world), "worker")
    parsed = urlparse(back)
    assert (await web.get(f"{parsed.path}?{parsed.query}")).headers["Location"] == "/"
    assert (await web.get(f"{parsed.path}?{parsed.query}")).status == 400  # the same callback again
    await reread(db)
    used_token = (
        await db.execute(select(WebSession.oidc_id_token).where(WebSession.oidc_id_token.is_not(None)))
    ).scalar_one()
    # A new sign-in has a new nonce: the earlier (real, still unexpired) ID token does not fit it.
    await start(web, world)
    await reread(db)
    (flow,) = (await db.execute(select(OidcLogin))).scalars()
    document = await oidc.discover(oidc.ProviderCache(), sso.issuer)
    with pytest.raises(oidc.SsoFailed):
        await oidc.validate_id_token(oidc.ProviderCache(), document, used_token, CLIENT_ID, flow.nonce)


@pytest.fixture
async def document(sso):
    return await oidc.discover(oidc.ProviderCache(), sso.issuer)


async def validate(document, token: str, nonce: str = "n-1", cache: oidc.ProviderCache | None = None):
    return await oidc.validate_id_token(cache or oidc.ProviderCache(), document, token, CLIENT_ID, nonce)


async def test_a_token_signed_with_the_providers_key_passes(sso, document):
    claims = await validate(document, sso.sign({"nonce": "n-1", "email": "x@y.dk"}))
    assert claims.subject == "worker"


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"aud": "another-client"}, id="wrong audience"),
        pytest.param({"aud": ["another-client", CLIENT_ID]}, id="several audiences, azp not ours"),
        pytest.param({"iss": "https://evil.example"}, id="wrong issuer"),
        pytest.param({"exp": int(time.time()) - 120, "iat": int(time.time()) - 420}, id="expired"),
        pytest.param({"iat": int(time.time()) + 600, "exp": int(time.time()) + 900}, id="issued in the future"),
        pytest.param({"nonce": "another nonce"}, id="wrong nonce"),
        pytest.param({"nonce": None}, id="no nonce"),
    ],
)
async def test_bad_claims_are_refused(sso, document, claims):
    payload = {"nonce": "n-1", **claims}
    token = sso.sign({k: v for k, v in payload.items() if v is not None})
    with pytest.raises(oidc.SsoFailed):
        await validate(document, token)


async def test_small_clock_skew_is_allowed(sso, document):
    now = int(time.time())
    await validate(document, sso.sign({"nonce": "n-1", "exp": now - 20, "iat": now - 320}))
    await validate(document, sso.sign({"nonce": "n-1", "iat": now + 20}))


async def test_a_wrongly_signed_token_is_refused(sso, document):
    same_kid = new_key(sso.key.kid)  # claims to be the provider's key
    with pytest.raises(oidc.SsoFailed):
        await validate(document, sso.sign({"nonce": "n-1"}, key=same_kid))
    unknown_kid = new_key("not-the-providers")  # a key the provider never had: fetched again, still refused
    with pytest.raises(oidc.SsoFailed):
        await validate(document, sso.sign({"nonce": "n-1"}, key=unknown_kid))
    header, payload, _ = sso.sign({"nonce": "n-1"}).split(".")
    with pytest.raises(oidc.SsoFailed):  # alg none, no signature
        await validate(document, f"{header}.{payload}.")


async def test_keys_are_fetched_again_when_the_provider_rotates(sso, document):
    cache = oidc.ProviderCache()
    old = new_key("retired-key")
    cache.jwks[document["jwks_uri"]] = oidc._Cached({"keys": [old.as_dict(private=False)]}, time.time() - 60)
    claims = await validate(document, sso.sign({"nonce": "n-1"}), cache=cache)  # a kid the cached set lacks
    assert claims.subject == "worker"
    assert [k["kid"] for k in cache.jwks[document["jwks_uri"]].document["keys"]] == [sso.key.kid]


async def test_token_times_are_checked_on_the_wall_clock_not_the_apps(web, world, sso, clock):
    clock.advance(days=400)  # the app's clock far ahead: the provider's fresh tokens are still valid
    assert (await sign_in(web, world, "worker")).headers["Location"] == "/"


async def test_password_login_can_be_turned_off(web, world, settings, clock, provider, db):
    await configure(db, world, settings, clock, provider, password_login=False)
    response = await web.login(world.a.worker)
    assert response.status == 401
    assert "Din kommune logger ind med sit eget login" in text_of(await response.text())
    response = await web.login(world.b.worker)  # another municipality is not affected
    assert response.status == 303


async def test_the_login_page_offers_the_municipalitys_login(web, world, sso):
    page = await web.page("/login")
    assert f'href="/login/sso/{world.a.id}"' in page
    assert f'href="/login/sso/{world.b.id}"' not in page


async def test_logout_ends_the_provider_session_too(web, world, sso, db):
    assert (await sign_in(web, world, "worker")).headers["Location"] == "/"
    response = await web.post("/logout", {}, from_page="/worker")
    assert response.status == 200  # a page moving on to the provider (a form's redirect there would break the CSP)
    location = unescape(re.search(r'http-equiv="refresh" content="0; url=([^"]+)"', await response.text()).group(1))
    assert location.startswith(sso.issuer + "/session/end?")
    query = parse_qs(urlparse(location).query)
    assert query["post_logout_redirect_uri"] == ["http://127.0.0.1/login/sso/logged-out"]
    assert query["id_token_hint"][0].count(".") == 2
    assert (await web.get("/worker")).status in (302, 303, 401)  # the app's session has ended already
    await reread(db)
    assert (await db.execute(select(WebSession).where(WebSession.staff_id == world.a.worker.id))).first() is None


async def test_password_logout_stays_local(web, world, sso):
    await web.login(world.a.worker)
    response = await web.post("/logout", {}, from_page="/worker")
    assert response.headers["Location"] == "/login?done=logged_out"


async def test_the_administrator_sets_the_provider_and_the_secret_is_sealed(web, world, provider, db, settings):
    await web.login(world.a.admin)
    form = {
        "enabled": "1",
        "issuer": provider.issuer + "/",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "scopes": "openid email profile groups",
        "role_claim": "groups",
        "worker_groups": "vb-workers",
        "password_login": "1",
        "match_email": "1",
    }
    response = await web.post("/admin/sso", form)
    assert response.status == 303, await response.text()
    await reread(db)
    row = await db.get(OidcProvider, world.a.id)
    assert row.enabled and row.issuer == provider.issuer and row.scopes == "openid email groups profile"
    assert CLIENT_SECRET not in row.client_secret_enc
    assert oidc.open_secret(row.client_secret_enc, settings.with_secret()) == CLIENT_SECRET
    page = await web.page("/admin/sso")
    assert CLIENT_SECRET not in page and provider.issuer in page
    # Saving again without a secret keeps the stored one.
    assert (await web.post("/admin/sso", {**form, "client_secret": ""})).status == 303
    await reread(db)
    assert oidc.open_secret((await db.get(OidcProvider, world.a.id)).client_secret_enc, settings.with_secret())


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"issuer": "http://login.example.dk"}, "issuer"),
        ({"client_id": ""}, "client_id"),
        ({"scopes": "email"}, "scopes"),
        ({"enabled": "", "password_login": ""}, "password_login"),
    ],
)
async def test_bad_provider_settings_get_a_message(web, world, changes, field):
    await web.login(world.a.admin)
    form = {"enabled": "1", "issuer": "https://login.example.dk", "client_id": "x", "client_secret": "y"}
    form.update({"scopes": "openid", "password_login": "1", **changes})
    response = await web.post("/admin/sso", form)
    assert response.status == 422
    assert f'id="f-{field}' in await response.text()


async def test_only_the_administrator_sets_the_provider(web, world):
    await web.login(world.a.worker)
    assert (await web.get("/admin/sso")).status == 403
