"""hassfest's rules beyond translations that can be checked offline.

Its config_schema check on every folder with a manifest (its GitHub action validates
them all, the end-to-end suite's helper included), and quality_scale.yaml, which
hassfest reads only for core integrations: every rule listed with a valid status, an
exempt rule with its reason, and a done rule with the code or test that shows it.
"""

from __future__ import annotations

import ast
from pathlib import Path
import re

import pytest
import yaml

ROOT = Path(__file__).parent.parent
COMPONENT = ROOT / "custom_components" / "sunvec_connect"
QUALITY_SCALE = COMPONENT / "quality_scale.yaml"

# The rules of script/hassfest/quality_scale.py in Home Assistant core (2026).
ALL_RULES = {
    # Bronze
    "action-setup", "appropriate-polling", "brands", "common-modules",
    "config-flow-test-coverage", "config-flow", "dependency-transparency", "docs-actions",
    "docs-conditions", "docs-high-level-description", "docs-installation-instructions",
    "docs-removal-instructions", "docs-triggers", "entity-event-setup", "entity-unique-id",
    "has-entity-name", "runtime-data", "test-before-configure", "test-before-setup",
    "unique-config-entry",
    # Silver
    "action-exceptions", "config-entry-unloading", "docs-configuration-parameters",
    "docs-installation-parameters", "entity-unavailable", "integration-owner",
    "log-when-unavailable", "parallel-updates", "reauthentication-flow", "test-coverage",
    # Gold
    "devices", "diagnostics", "discovery-update-info", "discovery", "docs-data-update",
    "docs-examples", "docs-known-limitations", "docs-supported-devices",
    "docs-supported-functions", "docs-troubleshooting", "docs-use-cases", "dynamic-devices",
    "entity-category", "entity-device-class", "entity-disabled-by-default",
    "entity-translations", "exception-translations", "icon-translations",
    "reconfiguration-flow", "repair-issues", "stale-devices",
    # Platinum
    "async-dependency", "inject-websession", "strict-typing",
}  # fmt: skip

MANIFEST_FOLDERS = sorted(
    path.parent
    for folder in ("custom_components", "tests_e2e")
    for path in (ROOT / folder).rglob("manifest.json")
)


@pytest.mark.parametrize("folder", MANIFEST_FOLDERS, ids=lambda path: path.name)
def test_async_setup_comes_with_a_config_schema(folder: Path) -> None:
    # hassfest warns when an integration implements (async_)setup without a schema.
    module = ast.parse((folder / "__init__.py").read_text())
    functions = {
        node.name
        for node in module.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    assigned = {
        target.id
        for node in module.body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name)
    }
    imported = {
        alias.asname or alias.name
        for node in module.body
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    schemas = {"CONFIG_SCHEMA", "PLATFORM_SCHEMA", "PLATFORM_SCHEMA_BASE"}
    if functions & {"async_setup", "setup"}:
        assert (assigned | imported) & schemas


def test_manifest_folders_found() -> None:
    assert {folder.name for folder in MANIFEST_FOLDERS} == {"sunvec_connect", "e2e_statistics"}


def test_quality_scale_lists_every_rule_with_a_valid_status() -> None:
    rules = yaml.safe_load(QUALITY_SCALE.read_text())["rules"]
    assert set(rules) == ALL_RULES
    for rule, value in rules.items():
        if isinstance(value, str):
            assert value in {"done", "todo"}, rule
            continue
        assert value.keys() <= {"status", "comment"}, rule
        assert value["status"] in {"done", "todo", "exempt"}, rule
        if value["status"] == "exempt":
            assert value.get("comment", "").strip(), f"{rule}: an exemption needs its reason"


def done_rule_evidence() -> dict[str, str]:
    """The comment lines above each rule marked done."""
    evidence: dict[str, str] = {}
    comment: list[str] = []
    for line in QUALITY_SCALE.read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            comment.append(stripped.lstrip("# "))
            continue
        if match := re.fullmatch(r"([a-z-]+): done", stripped):
            evidence[match.group(1)] = " ".join(comment)
        comment = []
    return evidence


def test_every_done_rule_names_existing_evidence() -> None:
    evidence = done_rule_evidence()
    assert evidence, "no rule marked done was found"
    test_names = {
        node.name
        for path in (ROOT / "tests").glob("test_*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    file_pattern = re.compile(r"[\w./-]+\.(?:py|json|md|ambr|toml)|[\w-]+/(?=\s|\(|$)")
    for rule, text in evidence.items():
        files = file_pattern.findall(text)
        assert files, f"{rule}: no file named"
        for name in files:
            assert (COMPONENT / name).exists() or (ROOT / name).exists(), f"{rule}: {name}"
        for test_name in re.findall(r"\btest_\w+", file_pattern.sub("", text)):
            assert test_name in test_names, f"{rule}: {test_name}"
