"""The customer area in English and in French, walked as a customer would (issue 17 item 4).

The walk is generic: on the dashboard, the list and a service (each of its tabs), it presses
every key the customer area's registry binds there (help, palette, dialogs, refusals...), reads
what the screen shows, and backs out again; nothing is confirmed. A key or screen added later is
walked too. The French walk must show none of the English walk's words, except the ones listed
here (words both languages share, key names, the filter syntax) and the customer's own data
(service and product names, email, invoice lines as they are stored).
"""

from __future__ import annotations

import io
import re
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console
from sqlmodel import select
from textual.screen import ModalScreen
from textual.widgets import TabbedContent

from svcconsole.client.actions import REGISTRY
from svcconsole.client.app import ClientApp
from svcconsole.client.screens import ClientDetailScreen, ClientServicesScreen, ClientTicketScreen, DashboardScreen
from svcconsole.core import catalog as catalog_module
from svcconsole.core import customer, customer_actions, records, settings, tickets
from svcconsole.store.models import Customer, InvoiceLine, Product, Service, ServiceOption, Ticket, TicketMessage
from tests.client.conftest import client_of
from tests.console.conftest import settle

pytestmark = pytest.mark.anyio

SHARED_WORDS = frozenset(
    {
        # the same word, spelled the same, in both languages
        "service",
        "services",
        "options",
        "panel",
        "description",
        "date",
        "expiration",
        "cycle",
        "id",
        "total",
        "automatique",
        "option",
        "note",
        "page",
        "palette",
        "an",
        # the product's name and the app's
        "svcconsole",
        # currency codes Babel writes in English
        "eur",
    }
)
"""Words the French walk may show although the English one shows them too (proper nouns, ids, cognates)."""

KEY_WORDS = frozenset(word.lower() for entry in REGISTRY for word in re.findall(r"[A-Za-z]+", entry.shown_key)) | {"ctrl", "shift", "tab", "esc"}
"""The keys' own names (esc, pgup, home...), which the help and footer show in both languages."""

FILTER_TERM = re.compile(rf"[\w-]+[:<>][\w,<>.:-]+|\b(?:{'|'.join(customer.FILTER_KEYS)}|expires):")
"""The filter syntax (status:active, expires<30d): typed literally, the same in both languages."""

WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")


def screen_text(app: ClientApp) -> str:
    """What the terminal shows now, as plain text (the screen and the ones under a dialog), as `export_screenshot` draws it."""
    console = Console(width=app.size.width, height=app.size.height, file=io.StringIO(), record=True, force_terminal=True, legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens, simplify=True))
    return console.export_text().replace("\xa0", " ").replace("\u202f", " ")


def notifications(app: ClientApp) -> str:
    """The messages the app notified (refusals, errors): toasts a key raised, read as the customer reads them."""
    return "\n".join(notification.message for notification in app._notifications)  # Textual keeps its toasts' notifications here


def words(text: str) -> set[str]:
    return {word.lower() for word in WORD.findall(FILTER_TERM.sub(" ", text)) if len(word) > 1}


def first_key(entry_key: str) -> str:
    return entry_key.split(",")[0]


async def read_screen(pilot, seen: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Read the screen, then again with everything that scrolls scrolled to its end (help's last lines)."""
    app = pilot.app
    seen.append(screen_text(app))
    scrolled = [widget for widget in app.screen.query("*") if widget.max_scroll_y > 0]
    for widget in scrolled:
        widget.scroll_end(animate=False, immediate=True)
    if scrolled:
        await settle(pilot, rounds=2)
        seen.append(screen_text(app))


async def back_to(pilot, screen_type: type, depth: int) -> None:  # type: ignore[no-untyped-def]
    """Close whatever a key opened (a dialog, help, another page) until `screen_type` is on top again."""
    app = pilot.app
    while len(app.screen_stack) > depth or not isinstance(app.screen, screen_type):
        if len(app.screen_stack) <= 2 and not isinstance(app.screen, screen_type):
            break
        app.pop_screen()
        await settle(pilot, rounds=2)


async def press_every_key(pilot, scope: str, screen_type: type, seen: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Press each key bound on this page (its scope and the app-wide ones), read the screen, back out.

    The page's own keys go first: an app-wide key such as d (the dashboard) leaves the page for good."""
    app = pilot.app
    depth = len(app.screen_stack)
    for entry in sorted(REGISTRY, key=lambda entry: entry.scope != scope):
        if entry.scope not in (scope, "client") or not entry.bound or entry.action in ("app.quit", "back", "quit"):
            continue
        await pilot.press(first_key(entry.key))
        await settle(pilot, rounds=2)
        await read_screen(pilot, seen)
        if isinstance(app.screen, ModalScreen):
            # a dialog shows its fields; tab through them once so a dropdown's words are read too
            await pilot.press("tab")
            await settle(pilot, rounds=2)
            seen.append(screen_text(app))
        await back_to(pilot, screen_type, depth)
        seen.append(notifications(app))
        app.clear_notifications()


async def walk(app: ClientApp, service_id: int) -> list[str]:
    """Every page, tab, dialog, help and palette view of the customer area, as text."""
    seen: list[str] = []
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        seen.append(screen_text(app))
        await press_every_key(pilot, "client-dashboard", DashboardScreen, seen)

        await pilot.press("colon")
        await settle(pilot, rounds=2)
        seen.append(screen_text(app))
        await pilot.press("o")
        await settle(pilot, rounds=2)
        seen.append(screen_text(app))
        await pilot.press("escape")
        await settle(pilot, rounds=2)

        await pilot.press("i")
        await settle(pilot, rounds=2)
        await pilot.press("9", "9", "9", "9", "enter")
        await settle(pilot, rounds=2)
        seen.append(notifications(app))
        app.clear_notifications()

        await pilot.press("l")
        await settle(pilot)
        seen.append(screen_text(app))
        await press_every_key(pilot, "client-services", ClientServicesScreen, seen)

        app.open_service(service_id)
        await settle(pilot)
        assert isinstance(app.screen, ClientDetailScreen)
        for pane_id, _ in ClientDetailScreen.TABS:
            app.screen.query_one("#tabs", TabbedContent).active = pane_id
            await settle(pilot, rounds=2)
            seen.append(screen_text(app))
        app.screen.query_one("#tabs", TabbedContent).active = "overview"
        await settle(pilot, rounds=2)
        await press_every_key(pilot, "client-detail", ClientDetailScreen, seen)
        await pilot.press("colon")
        await settle(pilot, rounds=2)
        seen.append(screen_text(app))
        await pilot.press("escape")
        await settle(pilot, rounds=2)

        with app.db.read() as session:
            ticket_ids = session.exec(select(Ticket.id).where(Ticket.service_id == service_id).order_by(Ticket.id)).all()
        for ticket_id in ticket_ids:
            app.push_screen(ClientTicketScreen(ticket_id))
            await settle(pilot)
            seen.append(screen_text(app))
            app.screen.set_focus(None)  # the reply box has the focus: the keys below go to the page, not into the reply
            await settle(pilot, rounds=2)
            await press_every_key(pilot, "client-ticket", ClientTicketScreen, seen)
            app.pop_screen()
            await settle(pilot, rounds=2)
    return seen


@pytest.fixture
def walked_shop(db, admin, shop, frozen):  # type: ignore[no-untyped-def]
    """Alice's services with an option, a renewal on an unpaid invoice, an end-of-cycle cancellation
    (the history and refusals have words), the self-service actions on (their dialogs or refusals)
    and a ticket support answered (its thread page)."""
    web, late = shop.alice["web"], shop.alice["late"]
    db.transaction(lambda session: records.option_add(session, admin, web, name="Extra IPv4", price="2.00"))
    db.transaction(lambda session: customer_actions.renew(session, shop.alice_actor, web))
    db.transaction(lambda session: catalog_module.edit_product(session, admin, str(shop.product_id), allow_customer_cancel=True))
    self_service = dict.fromkeys(("customer_options", "customer_cycle", "customer_power", "customer_suspend", "customer_delete"), True)
    db.transaction(lambda session: catalog_module.edit_product(session, admin, str(shop.product_id), customer_flags=self_service))
    db.transaction(lambda session: customer_actions.cancel(session, shop.alice_actor, late, "end-of-cycle", "too slow"))
    asked = db.transaction(lambda session: customer_actions.open_ticket(session, shop.alice_actor, web, "Slow disk", "The disk is slow since Monday."))
    db.transaction(lambda session: tickets.reply(session, admin, asked.ticket_id, "We moved it to a faster disk."))
    return shop


def customer_data_words(db, customer_id: int) -> set[str]:  # type: ignore[no-untyped-def]
    """The customer's own text as stored (names, emails, products, options, invoice lines other than
    renewals, which the area words itself, tickets' subjects and messages as written, with their
    authors' names): shown as it is in any language."""
    with db.read() as session:
        texts: list[str] = []
        person = session.get(Customer, customer_id)
        texts += [person.name, person.email]
        services = session.exec(select(Service).where(Service.customer_id == customer_id)).all()
        for service in services:
            texts += [service.name, service.product_name or "", service.server_name or "", service.description or "", service.uuid]
            texts += [option.name for option in session.exec(select(ServiceOption).where(ServiceOption.service_id == service.id)).all()]
            stored_lines = select(InvoiceLine).where(InvoiceLine.service_id == service.id, InvoiceLine.kind != "renewal")
            texts += [line.description for line in session.exec(stored_lines).all()]
            for ticket in session.exec(select(Ticket).where(Ticket.service_id == service.id)).all():
                texts.append(ticket.subject)
                messages = session.exec(select(TicketMessage).where(TicketMessage.ticket_id == ticket.id, TicketMessage.internal == False)).all()  # noqa: E712
                texts += [text for message in messages for text in (message.author, message.body)]
        texts += [product.name for product in session.exec(select(Product)).all()]
    return words(" ".join(texts))


def set_locale(db, admin, customer_id: int, locale: str) -> None:  # type: ignore[no-untyped-def]
    db.transaction(lambda session: catalog_module.edit_customer(session, admin, str(customer_id), locale=locale))


@pytest.mark.slow
async def test_the_french_customer_area_shows_none_of_the_english_walks_words(db, admin, walked_shop):
    shop = walked_shop
    english = await walk(ClientApp(db, client_of(db, "svcclient", "alice@example.com"), tz=ZoneInfo("UTC")), shop.alice["web"])
    set_locale(db, admin, shop.alice_id, "fr")
    actor = client_of(db, "svcclient", "alice@example.com")
    assert actor.locale == "fr"
    french = await walk(ClientApp(db, actor, tz=ZoneInfo("UTC")), shop.alice["web"])

    english_words, french_words = set().union(*map(words, english)), set().union(*map(words, french))
    allowed = SHARED_WORDS | KEY_WORDS | customer_data_words(db, shop.alice_id)
    left_in_english = sorted((english_words & french_words) - allowed)
    assert not left_in_english, f"English words in the French customer area: {left_in_english}"

    everything = "\n".join(french)
    french_wording = ("Expire le", "Renouvellement automatique", "Tableau de bord", "Factures impayées", "Renouvellement du n°1 alice web : du 7 août 2027")
    for wording in (*french_wording, "Historique", "Syntaxe du filtre", "aucun service 9999"):
        assert wording in everything, wording
    assert "Rechercher une commande" in everything


@pytest.mark.slow
async def test_the_english_walk_reads_the_english_wording(db, admin, walked_shop):
    shop = walked_shop
    db.transaction(lambda session: settings.set_value(session, admin, "default_locale", "en"))
    english = "\n".join(await walk(ClientApp(db, client_of(db, "svcclient", "alice@example.com"), tz=ZoneInfo("UTC")), shop.alice["web"]))
    for wording in ("Expires 2027-08-07", "Auto-Renewal", "Unpaid invoices", "History", "Filter syntax", "no service 9999", "Search for commands"):
        assert wording in english, wording
    assert "Expire le" not in english


def test_the_default_locale_setting_speaks_for_a_customer_without_their_own(db, admin, shop):
    assert client_of(db, "svcclient", "alice@example.com").locale == "en"
    db.transaction(lambda session: settings.set_value(session, admin, "default_locale", "fr"))
    assert client_of(db, "svcclient", "alice@example.com").locale == "fr"
    set_locale(db, admin, shop.alice_id, "en")
    assert client_of(db, "svcclient", "alice@example.com").locale == "en"
    assert client_of(db, "olga-not-an-operator", "bob@example.com").locale == "fr"


async def test_a_wrong_answer_and_a_wrong_filter_are_refused_in_french(db, admin, shop):
    set_locale(db, admin, shop.alice_id, "fr")
    app = ClientApp(db, client_of(db, "svcclient", "alice@example.com"), tz=ZoneInfo("UTC"))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot, rounds=2)
        await pilot.press("backspace", "0", "enter")
        await settle(pilot, rounds=2)
        assert "périodes: un nombre entier de 1 à 36" in screen_text(app)
        app.pop_screen()
        await settle(pilot, rounds=2)
        await pilot.press("l")
        await settle(pilot)
        await pilot.press("slash", *"color:red")
        await settle(pilot)
        assert "filtre: clé inconnue 'color' (connues : status, id, cycle, expires<30d) · aucune ligne tant qu'il n'est pas corrigé" in screen_text(app)
