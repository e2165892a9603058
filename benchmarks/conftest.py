"""Fixtures of the benchmark: the integration loads from custom_components/."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load the integration from custom_components/."""


@pytest.fixture(autouse=True)
def expected_lingering_timers() -> bool:
    """The benchmark unloads its entries; aiohttp may keep a keep-alive timer."""
    return True
