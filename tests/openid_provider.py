"""A real OpenID Provider for the tests: the certified npm `oidc-provider`, started by tests/oidc/provider.mjs on a
free port, with a test client and test users; plus what a test needs to drive its pages over HTTP and to sign
tokens with its key (or with a key it does not have)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlparse

import httpx2 as httpx
from joserfc import jwt
from joserfc.jwk import RSAKey

from support import require

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "oidc" / "provider.mjs"
MODULE = ROOT / "node_modules" / "oidc-provider" / "package.json"
CLIENT_ID = "vbostotte-test"
CLIENT_SECRET = "test-client-secret-" + "s" * 24
STRONG = "urn:test:strong"
WEAK = "urn:test:password"
PASSWORD = "provider password"


def provider_users(domain: str) -> dict[str, dict[str, Any]]:
    """The provider's people: by login name. Their e-mails match build_municipality's staff of ``domain``."""

    def user(email: str, groups: list[str], acr: str = STRONG, amr: list[str] | None = None, **more: Any) -> dict:
        return {
            "password": PASSWORD,
            "email": email,
            "email_verified": True,
            "name": email.split("@")[0].title(),
            "groups": groups,
            "acr": acr,
            "amr": amr if amr is not None else ["pwd", "mfa"],
            **more,
        }

    return {
        "worker": user(f"worker@{domain}", ["vb-workers"]),
        "weak": user(f"other-worker@{domain}", ["vb-workers"], acr=WEAK, amr=["pwd"]),
        "supervisor": user(f"supervisor@{domain}", ["vb-supervisors"]),
        "stranger": user(f"new-person@{domain}", ["vb-workers"]),
        "unverified": user(f"admin@{domain}", ["vb-admins"], email_verified=False),
    }


def require_provider() -> None:
    require(shutil.which("node") is not None, "node (for the OpenID provider tests)")
    require(MODULE.exists(), "the npm package oidc-provider (npm ci)")


def new_key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"}, private=True)


@dataclass
class OpenIDProvider:
    issuer: str
    key: RSAKey  # the provider's signing key (private): tests sign tokens the provider's JWKS accepts
    users: dict[str, dict[str, Any]]
    process: subprocess.Popen = field(repr=False)

    @property
    def client_id(self) -> str:
        return CLIENT_ID

    def sign(self, claims: dict[str, Any], key: RSAKey | None = None) -> str:
        """An ID token with ``claims`` over sensible defaults, signed with the provider's key (or ``key``)."""
        now = int(time.time())  # the wall clock: the provider's own (docs/architecture.md, "Two clocks")
        signer = key or self.key
        payload = {"iss": self.issuer, "aud": CLIENT_ID, "sub": "worker", "iat": now, "exp": now + 300, **claims}
        return jwt.encode({"alg": "RS256", "kid": signer.kid}, payload, signer)

    def set_user(self, login: str, **changes: Any) -> None:
        """Change a user while the provider runs (a group removed, a new e-mail)."""
        httpx.post(f"{self.issuer}/_test/users/{login}", content=json.dumps(changes)).raise_for_status()
        self.users[login].update(changes)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_provider(tmp_path: Path, base_url: str, domain: str) -> OpenIDProvider:
    """Start the provider with one client whose redirect URI is the app's at ``base_url``, and provider_users of the
    staff e-mail ``domain``."""
    require_provider()
    key = new_key("provider-key-1")
    users = provider_users(domain)
    config = {
        "clients": [
            {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": [base_url.rstrip("/") + "/login/sso/callback"],
                "post_logout_redirect_uris": [base_url.rstrip("/") + "/login/sso/logged-out"],
            }
        ],
        "users": users,
        "jwks": {"keys": [key.as_dict(private=True)]},
    }
    path = tmp_path / "oidc-provider.json"
    path.write_text(json.dumps(config))
    process = subprocess.Popen(
        ["node", str(SCRIPT), str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.kill()
        raise RuntimeError("the OpenID provider did not start (tests/oidc/provider.mjs)")
    return OpenIDProvider(json.loads(line)["issuer"], key, users, process)


async def sign_in_at_provider(authorization_url: str, login: str, password: str = PASSWORD) -> str:
    """Follow the authorization URL through the provider's login page like a browser; returns the URL the provider
    finally sends the browser to (the app's callback, with code and state)."""
    issuer = f"{urlparse(authorization_url).scheme}://{urlparse(authorization_url).netloc}"
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as client:
        url = authorization_url
        for _ in range(10):
            response = await client.get(url)
            if response.status_code == 200 and "/interaction/" in url:
                response = await client.post(url, data={"login": login, "password": password})
                assert response.status_code in (302, 303), response.text
            assert response.status_code in (302, 303), (url, response.status_code, response.text[:300])
            url = urljoin(url, response.headers["location"])
            if not url.startswith(issuer):
                return url
    raise AssertionError("the provider never sent the browser back")
