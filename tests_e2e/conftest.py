"""Fixtures of the end-to-end suite, which runs outside pytest-homeassistant-custom-component.

The tests of test_journey.py are the steps of one user journey on one running stack:
they run in file order and a step is skipped once an earlier one failed. A failed step
carries the tail of Home Assistant's log in its report.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path
import shutil
from typing import Any

import pytest

from .stack import HA_URL, OWNER, ROOT, Stack, running_stack

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOG_TAIL = 20_000

_running: dict[str, Stack] = {}
_failed_step: dict[str, str] = {}


def pytest_addoption(parser: pytest.Parser) -> None:
    """--screenshots DIR: where the screenshots go (default: the README's docs/images)."""
    parser.addoption(
        "--screenshots",
        type=Path,
        default=ROOT / "docs" / "images",
        help="directory for the screenshots (default: docs/images, shown in the README)",
    )


@pytest.fixture(scope="session")
def screenshots(request: pytest.FixtureRequest) -> Path:
    """The directory the screenshots are saved to."""
    directory: Path = request.config.getoption("--screenshots")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Home Assistant and the simulator for the whole journey."""
    with running_stack(tmp_path_factory.mktemp("stack")) as running:
        _running["stack"] = running
        yield running
        problems = running.log_problems()
        if problems:
            pytest.fail("Home Assistant's log:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture(scope="session")
def page(stack: Stack) -> Iterator[Any]:
    """A page of Debian's headless Chromium, logged in as the owner."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is needed: apt-get install chromium", pytrace=False)
    from playwright.sync_api import expect, sync_playwright  # noqa: PLC0415

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
        page.goto(HA_URL)
        page.locator('input[name="username"]').fill(OWNER["username"])
        page.locator('input[name="password"]').fill(OWNER["password"])
        page.keyboard.press("Enter")
        expect(page.get_by_text("Settings", exact=True)).to_be_visible(timeout=60_000)
        yield page
        browser.close()


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip the rest of the journey after a failed step."""
    if failed := _failed_step.get(str(item.path)):
        pytest.skip(f"an earlier step failed: {failed}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Remember a failed step and attach Home Assistant's log to its report."""
    report = yield
    if report.failed:
        _failed_step.setdefault(str(item.path), item.name)
        if running := _running.get("stack"):
            report.sections.append(("Home Assistant log (tail)", running.log_text()[-LOG_TAIL:]))
    return report
