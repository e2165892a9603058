"""What HACS and hassfest read from the repository: hacs.json, manifest.json, LICENSE.

HACS validates hacs.json against a closed key set and requires six manifest keys; it
reads the licence from GitHub's repository metadata, which GitHub derives from the
LICENSE file (it accepts apache-2.0 among its open source licences). hassfest rejects a
custom integration's manifest key it does not know, so the licence is named nowhere in
manifest.json.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
import re

from awesomeversion import AwesomeVersion

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = json.loads((ROOT / "custom_components" / "sunvec_connect" / "manifest.json").read_text())
HACS = json.loads((ROOT / "hacs.json").read_text())

HACS_JSON_KEYS = {
    "content_in_root",
    "country",
    "filename",
    "hacs",
    "hide_default_branch",
    "homeassistant",
    "name",
    "persistent_directory",
    "render_readme",
    "zip_release",
}
"""HACS's HACS_MANIFEST_JSON_SCHEMA (extra keys prevented; name required)."""
HACS_MANIFEST_KEYS = {"codeowners", "documentation", "domain", "issue_tracker", "name", "version"}
"""The manifest keys HACS requires of an integration."""
HASSFEST_CUSTOM_MANIFEST_KEYS = {
    "after_dependencies",
    "bluetooth",
    "codeowners",
    "config_flow",
    "dependencies",
    "dhcp",
    "disabled",
    "documentation",
    "domain",
    "homekit",
    "import_executor",
    "integration_type",
    "iot_class",
    "issue_tracker",
    "loggers",
    "mqtt",
    "name",
    "quality_scale",
    "requirements",
    "single_config_entry",
    "ssdp",
    "usb",
    "version",
    "zeroconf",
}
"""hassfest's CUSTOM_INTEGRATION_MANIFEST_SCHEMA (Home Assistant core, script/hassfest)."""
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"
"""The Apache License 2.0 text as the Apache Software Foundation publishes it."""


def test_hacs_json_uses_known_keys_and_a_release_version() -> None:
    assert set(HACS) <= HACS_JSON_KEYS
    assert HACS["name"] == MANIFEST["name"]
    minimum = AwesomeVersion(HACS["homeassistant"])
    assert minimum.strategy == "CalVer"
    assert re.fullmatch(r"\d{4}\.\d{1,2}\.\d+", HACS["homeassistant"])


def test_manifest_has_what_hacs_requires_and_only_what_hassfest_accepts() -> None:
    assert set(MANIFEST) >= HACS_MANIFEST_KEYS
    assert set(MANIFEST) <= HASSFEST_CUSTOM_MANIFEST_KEYS
    keys = list(MANIFEST)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:]), "hassfest: domain, name, then alphabetical order"
    for key in ("documentation", "issue_tracker"):
        assert MANIFEST[key].startswith("https://github.com/"), key


def test_readme_links_the_issue_tracker_and_names_the_minimum() -> None:
    readme = (ROOT / "README.md").read_text()
    assert MANIFEST["issue_tracker"] in readme
    assert HACS["homeassistant"] in readme


def test_license_is_the_apache_2_text_after_a_copyright_line() -> None:
    first, text = (ROOT / "LICENSE").read_text().split("\n", 1)
    assert first.startswith("Copyright ")
    assert hashlib.sha256(text.encode()).hexdigest() == APACHE_2_SHA256
