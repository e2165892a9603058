"""Consistency of translations and icons with the code."""

from __future__ import annotations

import json
from pathlib import Path
import re
from typing import Any

import pytest

from custom_components.sunvec_connect.binary_sensor import BINARY_SENSORS
from custom_components.sunvec_connect.config_flow import ERROR_KEYS
from custom_components.sunvec_connect.sensor import SENSORS

COMPONENT = Path(__file__).parent.parent / "custom_components" / "sunvec_connect"
EN: dict[str, Any] = json.loads((COMPONENT / "translations" / "en.json").read_text())
ICONS: dict[str, Any] = json.loads((COMPONENT / "icons.json").read_text())
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in tree.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            flat.update(flatten(value, path))
        else:
            flat[path] = value
    return flat


@pytest.mark.parametrize("language", ["de", "nl"])
def test_other_languages_match_english(language: str) -> None:
    other = flatten(json.loads((COMPONENT / "translations" / f"{language}.json").read_text()))
    english = flatten(EN)
    assert other.keys() == english.keys()
    for path, text in english.items():
        assert set(PLACEHOLDER.findall(other[path])) == set(PLACEHOLDER.findall(text)), path
        assert other[path].strip(), path


def test_every_entity_and_state_is_translated() -> None:
    for platform, descriptions in (("sensor", SENSORS), ("binary_sensor", BINARY_SENSORS)):
        for description in descriptions:
            if description.translation_key is None:
                continue
            translation = EN["entity"][platform][description.translation_key]
            assert translation["name"]
            for option in getattr(description, "options", None) or []:
                assert translation["state"][option]
                assert ICONS["entity"][platform][description.translation_key]["state"][option]


def test_every_form_error_is_translated() -> None:
    errors = EN["config"]["error"]
    for _, key in ERROR_KEYS:
        assert key in errors
    for key in ("unknown", "invalid_url", "invalid_token", "invalid_wifi_sn"):
        assert key in errors
