"""The citizen's start page answers "what do I do now?" (issue 12): while a video session's call is open, or opens
within a few minutes, the first thing under the greeting is that call, with whom and when, and one big button into
it; otherwise the next appointment with its one-tap answers. Everything else is one tap away in a menu, each on a
short page of the citizen's own, with a way back."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from vbostotte.models import Appointment

from support import text_of

MENU = {  # the menu's pages, and what each one is about
    "/me/appointments": "Dine aftaler",
    "/me/wellbeing": "Hvordan har du det i dag?",
    "/me/day": "Min dagsplan for i dag",
    "/me/goals": "Dine mål",
    "/me/notes": "Notater fra din bostøtte",
    "/me/contact": "Hvornår du kan skrive til os",
    "/me/consents": "Dine samtykker",
}


def main_of(html: str) -> str:
    return html.split('<main id="main"', 1)[1].split("</main>", 1)[0]


def first_things(html: str) -> list[str]:
    """The classes of the start page's parts (its sections, the menu, a lead paragraph), in order, after the
    greeting."""
    main = main_of(html)
    found = re.findall(r'<(?:section|nav) class="([a-z-]+)|<p class="(lead)"', main.split("</h1>", 1)[1])
    return [part or lead for part, lead in found]


async def test_an_open_call_is_the_first_thing_with_who_when_and_one_button(world, clock, web):
    clock.advance(days=1, minutes=-10)  # the call opened five minutes ago
    await web.open_link(world.a.citizen.link_token)
    html = await web.page("/me")
    assert first_things(html)[0] == "now-card"
    card = text_of(html.split('class="now-card"', 1)[1].split("</section>", 1)[0] + "</main>")
    assert "Din videosamtale med Worker" in card and "Tirsdag 24. november kl. 08.00" in card
    buttons = re.findall(r'<a class="button button--big[^"]*" href="([^"]+)">([^<]+)</a>', main_of(html))
    assert buttons == [(f"/calls/{world.a.citizen.appointment_id}", "Gå til samtalen")]  # one big button
    assert "Jeg kommer" not in text_of(html)  # nothing else to decide before the call


async def test_a_call_that_opens_within_minutes_is_shown_with_when_it_opens(world, clock, web):
    clock.advance(days=1, minutes=-25)  # it opens in ten minutes (15 minutes before the start)
    await web.open_link(world.a.citizen.link_token)
    html = await web.page("/me")
    assert first_things(html)[0] == "now-card"
    assert "Du kan gå ind fra kl. 07.45." in text_of(html)
    assert f'href="/calls/{world.a.citizen.appointment_id}"' not in html  # the button comes when it can be used
    assert 'data-reload-in="601"' in html and "js/citizen_home.js" in html  # the page reloads itself then

    clock.advance(minutes=-10)  # twenty minutes before it opens: not yet the thing to do now
    html = await web.page("/me")
    assert first_things(html)[0] == "next-card" and "now-card" not in html


async def test_otherwise_the_next_appointment_with_its_answers_comes_first(world, web):
    await web.open_link(world.a.citizen.link_token)
    html = await web.page("/me")
    assert first_things(html)[:2] == ["next-card", "citizen-menu"]
    card = text_of(html.split('class="next-card', 1)[1].split("</section>", 1)[0] + "</main>")
    assert "Din næste aftale" in card and f"Agenda for {world.a.citizen.name}" in card
    assert "Jeg kommer" in card and "Jeg kan ikke komme" in card
    assert "Gå til samtalen" not in text_of(html)


async def test_with_no_appointments_the_page_says_so(world, web, db, clock):
    appointment = await db.get(Appointment, world.a.citizen.appointment_id)
    appointment.cancelled_at = clock() - dt.timedelta(hours=1)
    await db.commit()
    await web.open_link(world.a.citizen.link_token)
    html = await web.page("/me")
    assert first_things(html)[:2] == ["lead", "citizen-menu"]
    assert "Du har ingen aftaler lige nu." in text_of(html)


async def test_the_menu_leads_to_a_short_page_for_each_thing(world, web):
    await web.open_link(world.a.citizen.link_token)
    menu = main_of(await web.page("/me")).split('class="citizen-menu"', 1)[1]
    links = re.findall(r'href="([^"]+)"', menu)
    assert links == [
        "/me/appointments",
        "/me/wellbeing",
        "/me/day",
        "/me/goals",
        "/me/notes",
        "/me/contact",
        "/connection-test",
        "/me/consents",
        "/me/data",
    ]
    for path, heading in MENU.items():
        html = await web.page(path)
        assert re.search(rf"<h1[^>]*>{re.escape(heading)}</h1>", html), path
        assert '<a class="button button--secondary" href="/me">' in html, path  # the way back, first
        assert main_of(html).index('href="/me"') < main_of(html).index("<h1"), path


@pytest.mark.parametrize("path", list(MENU))
async def test_the_menu_pages_are_the_citizens_own(world, web, other_web, path):
    assert (await web.get(path)).headers["Location"].startswith("/login")
    await other_web.login(world.a.worker)
    assert (await other_web.get(path)).status == 403
