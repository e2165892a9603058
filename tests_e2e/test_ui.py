"""The same user journey in the real frontend, driven in Debian's headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
import shutil

import pytest

from simulator.demo import HYBRID_WIFI_SN

from .stack import HA_URL, OWNER, SIM_URL, TOKEN, Stack, running_stack

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "images"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Home Assistant and the simulator for the whole module."""
    with running_stack(tmp_path_factory.mktemp("ui")) as running:
        yield running
        problems = running.log_problems()
        assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def page(stack: Stack) -> Iterator[object]:
    """A page of Debian's Chromium, logged in as the owner."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium package is not installed")
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
        page.goto(HA_URL)
        page.locator('input[name="username"]').fill(OWNER["username"])
        page.locator('input[name="password"]').fill(OWNER["password"])
        page.keyboard.press("Enter")
        playwright.expect(page.get_by_text("Settings", exact=True)).to_be_visible(timeout=60_000)
        yield page
        browser.close()


def open_add_integration(page: object) -> None:
    """Settings > Devices & services > Add integration > search Sunvec."""
    page.goto(f"{HA_URL}/config/integrations/dashboard")
    page.get_by_role("button", name="Add integration").click(timeout=60_000)
    page.get_by_role("textbox").first.fill("Sunvec")
    page.get_by_text("Sunvec Connect", exact=True).first.click()
    playwright.expect(field(page, 0)).to_be_visible(timeout=30_000)


def field(page: object, index: int) -> object:
    """The form's text fields in order: API address, token, registration number."""
    return page.locator("ha-form input").nth(index)


def fill_form(page: object, token: str) -> None:
    """Type what a user types and submit."""
    field(page, 0).fill(SIM_URL)
    field(page, 1).fill(token)
    field(page, 2).fill(HYBRID_WIFI_SN.lower())


def test_add_integration_in_the_frontend(stack: Stack, page: object) -> None:
    open_add_integration(page)
    fill_form(page, "wrong-token")
    page.get_by_role("button", name="Submit").click()
    playwright.expect(page.get_by_text("The token was refused")).to_be_visible(timeout=30_000)
    field(page, 1).fill(TOKEN)
    page.screenshot(path=str(SCREENSHOTS / "e2e_form.png"))
    page.get_by_role("button", name="Submit").click()
    # The success dialog: the device was created, with its area to choose.
    playwright.expect(page.get_by_role("button", name="Finish")).to_be_visible(timeout=30_000)
    page.screenshot(path=str(SCREENSHOTS / "e2e_created.png"))
    entries = [
        entry
        for entry in stack.api("GET", "/api/config/config_entries/entry")
        if entry["domain"] == "sunvec_connect"
    ]
    assert [entry["title"] for entry in entries] == ["Sunvec H34A08I6008"]
    page.get_by_role("button", name="Finish").click()
