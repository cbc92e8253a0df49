"""Staff sign in through the municipality's own OpenID provider in a real browser (issue 15): the app's button, the
provider's own login page (the certified npm `oidc-provider`, tests/oidc/provider.mjs), back signed in; logout ends
the provider's session too (RP-initiated logout), through its confirmation page."""

from __future__ import annotations

import re

import pytest
import pytest_asyncio
from playwright.async_api import expect

from vbostotte.identity import oidc

from openid_provider import CLIENT_ID, CLIENT_SECRET, PASSWORD, STRONG, start_provider

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


@pytest.fixture
def provider(tmp_path, settings, world):
    op = start_provider(tmp_path, settings.base_url, world.a.worker.email.split("@")[1])
    yield op
    op.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def sso(db, world, settings, clock, provider):
    form = oidc.ProviderForm(
        enabled=True,
        issuer=provider.issuer,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        scopes="openid email profile groups",
        role_claim="groups",
        worker_groups="vb-workers",
        supervisor_groups="vb-supervisors",
        strong_acr=STRONG,
    )
    await oidc.save_settings(db, world.a.admin.actor, form, settings.with_secret(), clock())
    await db.commit()
    return provider


async def sign_in_at_provider(page, login: str) -> None:
    await expect(page.get_by_role("heading", name="Sign in to the test provider")).to_be_visible()
    await page.get_by_label("User name").fill(login)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()


async def test_staff_sign_in_with_the_municipalitys_login_and_log_out_there_too(page, site, world, sso):
    await page.goto("/login")
    await page.get_by_role("link", name=re.compile(r"Log ind med .*s login")).click()
    await expect(page).to_have_url(re.compile(re.escape(sso.issuer) + r"/interaction/"))
    await sign_in_at_provider(page, "worker")

    # Strong authentication at the provider (its acr): no local code asked; the worker's week.
    await expect(page).to_have_url(re.compile(r"/worker$"))
    await expect(page.get_by_role("link", name=world.a.citizen.name).first).to_be_visible()

    await page.get_by_role("button", name="Log ud").click()
    # The provider asks whether to end its session too (its own page), then sends the browser back.
    await expect(page).to_have_url(re.compile(re.escape(sso.issuer) + r"/session/end"))
    await page.get_by_role("button", name=re.compile("Yes", re.I)).click()
    await expect(page).to_have_url(re.compile(r"/login\?done=logged_out$"))
    await page.goto("/worker")  # the app's session is over
    await expect(page).to_have_url(re.compile(r"/login$"))
    # The provider's session is over too: signing in again shows its login page, not an instant return.
    await page.get_by_role("link", name=re.compile(r"Log ind med .*s login")).click()
    await expect(page.get_by_role("heading", name="Sign in to the test provider")).to_be_visible()


async def test_weak_login_then_the_local_code(page, site, world, sso):
    await page.goto("/login")
    await page.get_by_role("link", name=re.compile(r"Log ind med .*s login")).click()
    await sign_in_at_provider(page, "weak")
    await expect(page).to_have_url(re.compile(r"/login/code$"))
    await page.locator("main input[name=code]").fill(world.a.other_worker.code(site.clock))
    await page.locator("main button[type=submit]").click()
    await expect(page).to_have_url(re.compile(r"/worker$"))


async def test_an_unknown_person_reads_a_plain_danish_message(page, site, world, sso, assert_accessible):
    await page.goto("/login")
    await page.get_by_role("link", name=re.compile(r"Log ind med .*s login")).click()
    await sign_in_at_provider(page, "stranger")
    await expect(page.get_by_role("alert")).to_have_text(
        "Du kan ikke logge ind i Virtuel Bostøtte med dette login. Bed din administrator om at give dig adgang."
    )
    await assert_accessible(page)
