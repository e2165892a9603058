"""Root pytest configuration shared by tests/ and benchmarks/."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytest_homeassistant_custom_component"]


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ini switch that turns Home Assistant deprecation reports into failures."""
    parser.addini(
        "phacc_fail_on_deprecation_report",
        "fail a test in which Home Assistant reports a deprecated usage",
        type="bool",
        default=False,
    )
