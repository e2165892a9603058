"""Translations: hassfest's offline rules, every language alike, every key the code uses.

hassfest (Home Assistant's validator, run on every custom integration repository by its
GitHub action) checks the strings' form. What it cannot see, whether the code and the
strings agree, is read here from the code itself (its syntax tree and its constants), so
that a key added to the code without a string, or a string left behind, fails a test.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
import importlib
import json
from pathlib import Path
import re
import string
from types import ModuleType
from typing import Any

from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.entity import EntityDescription
import pytest
import voluptuous as vol

from custom_components.sunvec_connect.binary_sensor import BINARY_SENSORS
from custom_components.sunvec_connect.sensor import API_CALLS_TODAY, SENSORS_OF_THE_UPLOAD

COMPONENT = Path(__file__).parent.parent / "custom_components" / "sunvec_connect"
PACKAGE = "custom_components.sunvec_connect"
TRANSLATIONS: dict[str, dict[str, Any]] = {
    path.stem: json.loads(path.read_text())
    for path in sorted((COMPONENT / "translations").glob("*.json"))
}
EN = TRANSLATIONS["en"]
OTHER_LANGUAGES = sorted(set(TRANSLATIONS) - {"en"})
ICONS: dict[str, Any] = json.loads((COMPONENT / "icons.json").read_text())

# The expressions of script/hassfest/translations.py in Home Assistant core.
RE_URL = re.compile(
    r"(((ftp|ftps|scp|http|https|mqtt|mqtts|socket|socks5):\/\/|www\.)"
    r"[a-z0-9]+([\-\.]{1}[a-z0-9]+)*\.[a-z]{2,5}(:[0-9]{1,5})?(\/.*)?)",
    re.IGNORECASE,
)
RE_TRANSLATION_KEY = re.compile(r"^(?!.+[_-]{2})(?![_-])[a-z0-9-_]+(?<![_-])$")
RE_COMBINED_REFERENCE = re.compile(r"(.+\[%)|(%\].+)")
RE_PLACEHOLDER_IN_SINGLE_QUOTES = re.compile(r"'{\w+}'")
URL_PROBLEM = "a URL (pass it through description placeholders)"

FLOW_SECTION_KEYS = {
    "flow_title", "step", "error", "abort", "progress", "create_entry", "initiate_flow",
}  # fmt: skip
STEP_KEYS = {
    "title", "description", "data", "data_description", "menu_options",
    "menu_option_descriptions", "submit", "sections",
}  # fmt: skip
ENTITY_KEYS = {"name", "state", "state_attributes", "unit_of_measurement"}
TOP_LEVEL_KEYS = {
    "title", "config", "config_subentries", "options", "entity", "exceptions", "issues",
    "selector",
}  # fmt: skip
SUBENTRY_SECTION_KEYS = FLOW_SECTION_KEYS | {"entry_type"}
SECTIONS = ["config", "options", "subentry"]
"""The flows: the config flow, the options flow and the inverter subentry flow."""


def section_strings(section: str) -> Mapping[str, Any]:
    """A flow's strings in the English file."""
    if section == "subentry":
        return EN["config_subentries"]["inverter"]  # type: ignore[no-any-return]
    return EN[section]  # type: ignore[no-any-return]


def leaves(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Every string of a translation file by its dotted path."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, Mapping):
            flat.update(leaves(value, path))
        else:
            flat[path] = value
    return flat


def placeholders(text: str) -> set[str]:
    """The placeholder names in a translation string."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


# --- hassfest's rules on the strings themselves ------------------------------------------


def string_problems(path: str, text: object) -> list[str]:
    """What hassfest's translation value validator would reject in one string."""
    if not isinstance(text, str):
        return [f"{path}: not a string"]
    problems = []
    try:
        cv.string_with_no_html(text)
    except vol.Invalid:
        problems.append(f"{path}: HTML")
    if RE_PLACEHOLDER_IN_SINGLE_QUOTES.search(text):
        problems.append(f"{path}: a placeholder in single quotes")
    names = placeholders(text)
    if any(not name.isidentifier() for name in names):
        problems.append(f"{path}: a placeholder that is not an identifier")
    # State names are shown as they are: hassfest allows no placeholders in them.
    if names and ".state." in f".{path}":
        problems.append(f"{path}: a placeholder in a state name")
    if RE_COMBINED_REFERENCE.search(text):
        problems.append(f"{path}: a combined reference")
    if text != text.strip():
        problems.append(f"{path}: leading or trailing spaces")
    if not text:
        problems.append(f"{path}: empty")
    if RE_URL.search(text):
        problems.append(f"{path}: {URL_PROBLEM}")
    return problems


def structure_problems(strings: Mapping[str, Any]) -> list[str]:
    """What hassfest's strings schema would reject in the file's layout and keys."""
    problems = [f"{key}: not a section hassfest knows" for key in set(strings) - TOP_LEVEL_KEYS]
    flows = [
        (section, strings.get(section, {}), FLOW_SECTION_KEYS) for section in ("config", "options")
    ]
    flows += [
        (f"config_subentries.{kind}", flow, SUBENTRY_SECTION_KEYS)
        for kind, flow in strings.get("config_subentries", {}).items()
    ]
    for section, flow, known in flows:
        problems += [f"{section}.{key}: unknown" for key in set(flow) - known]
        for step_id, step in flow.get("step", {}).items():
            where = f"{section}.step.{step_id}"
            problems += [f"{where}.{key}: unknown" for key in set(step) - STEP_KEYS]
            problems += [
                f"{where}.data_description.{key}: not in data"
                for key in set(step.get("data_description", {})) - set(step.get("data", {}))
            ]
    for platform, entities in strings.get("entity", {}).items():
        problems += _slug_problems(f"entity.{platform}", platform, cv.slug)
        for key, entity in entities.items():
            where = f"entity.{platform}.{key}"
            problems += _slug_problems(where, key, _translation_key)
            problems += [f"{where}.{name}: unknown" for name in set(entity) - ENTITY_KEYS]
            for state in entity.get("state", {}):
                problems += _slug_problems(f"{where}.state.{state}", state, _translation_key)
    for key, exception in strings.get("exceptions", {}).items():
        problems += _slug_problems(f"exceptions.{key}", key, cv.slug)
        problems += [f"exceptions.{key}.{name}: unknown" for name in set(exception) - {"message"}]
    for key, issue in strings.get("issues", {}).items():
        if "title" not in issue:
            problems.append(f"issues.{key}: no title")
        if ("description" in issue) == ("fix_flow" in issue):
            problems.append(f"issues.{key}: needs exactly one of description and fix_flow")
    return problems


def _translation_key(value: str) -> str:
    if not RE_TRANSLATION_KEY.match(value):
        raise vol.Invalid(value)
    return value


def _slug_problems(where: str, key: str, validator: Callable[[str], str]) -> list[str]:
    try:
        if validator(key) != key:
            return [f"{where}: not a valid key"]
    except vol.Invalid:
        return [f"{where}: not a valid key"]
    return []


@pytest.mark.parametrize("language", sorted(TRANSLATIONS))
def test_strings_pass_hassfest_rules(language: str) -> None:
    strings = TRANSLATIONS[language]
    problems = structure_problems(strings)
    for path, text in leaves(strings).items():
        problems += string_problems(path, text)
    assert problems == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("For example https://api.example.com.", URL_PROBLEM),
        ("Open www.example.com first", URL_PROBLEM),
        ("Use mqtt://broker.local:1883 here", URL_PROBLEM),
        (" Leading space", "leading or trailing spaces"),
        ("Say '{name}'", "a placeholder in single quotes"),
        ("A <b>bold</b> word", "HTML"),
        ("[%key:common::x%] and more", "a combined reference"),
    ],
)
def test_string_rules_catch_what_hassfest_rejects(text: str, problem: str) -> None:
    assert [found.split(": ", 1)[1] for found in string_problems("x", text)] == [problem]


def test_string_rules_pass_plain_mentions_of_schemes() -> None:
    assert string_problems("x", "Must start with https (or http), such as {example_url}.") == []
    assert string_problems("x", "The address starts with http://, so the token") == []


@pytest.mark.parametrize("language", OTHER_LANGUAGES)
def test_other_languages_match_english(language: str) -> None:
    other = leaves(TRANSLATIONS[language])
    english = leaves(EN)
    assert other.keys() == english.keys()
    for path, text in english.items():
        assert placeholders(other[path]) == placeholders(text), path


# --- what the code uses --------------------------------------------------------------------


type Function = ast.FunctionDef | ast.AsyncFunctionDef


class CodeReader:
    """Finds, in the integration's modules, the strings that reach a translation key.

    A key is a literal, a choice between literals, a name bound to one of those (also
    as a loop variable over a tuple), a parameter (followed to every call of its
    function), a module constant or a lookup in one. Anything else fails the test, so
    that no key can slip past it.
    """

    def __init__(self) -> None:
        """Parse every module of the integration and import it."""
        self.modules: dict[ast.Module, ModuleType] = {}
        self.parents: dict[ast.AST, ast.AST] = {}
        for path in sorted(COMPONENT.glob("*.py")):
            tree = ast.parse(path.read_text(), filename=str(path))
            name = PACKAGE if path.stem == "__init__" else f"{PACKAGE}.{path.stem}"
            self.modules[tree] = importlib.import_module(name)
            for node in ast.walk(tree):
                for child in ast.iter_child_nodes(node):
                    self.parents[child] = node

    def nodes[T: ast.AST](self, kind: type[T], within: ast.AST | None = None) -> Iterator[T]:
        """Every node of a kind, in one subtree or in every module."""
        for tree in [within] if within is not None else list(self.modules):
            yield from (node for node in ast.walk(tree) if isinstance(node, kind))

    def enclosing[T: ast.AST](self, node: ast.AST, kind: type[T] | tuple[type, ...]) -> T | None:
        """The nearest enclosing node of a kind."""
        current = self.parents.get(node)
        while current is not None and not isinstance(current, kind):
            current = self.parents.get(current)
        return current  # type: ignore[return-value]

    def module_of(self, node: ast.AST) -> ModuleType:
        """The imported module a node belongs to."""
        tree = self.enclosing(node, ast.Module)
        assert tree is not None
        return self.modules[tree]

    def global_value(self, node: ast.Name) -> Any:
        """The value of a module-level name, as imported."""
        return getattr(self.module_of(node), node.id)

    def fail(self, node: ast.AST, what: str) -> AssertionError:
        """Say which expression cannot be read."""
        lineno = getattr(node, "lineno", "?")
        return AssertionError(f"{self.module_of(node).__name__}:{lineno}: {what}")

    # Strings.

    def strings(self, expr: ast.expr) -> set[str]:
        """Every string `expr` can evaluate to."""
        match expr:
            case ast.Constant(value=str() as value):
                return {value}
            case ast.IfExp(body=body, orelse=orelse):
                return self.strings(body) | self.strings(orelse)
            case ast.Call(func=ast.Attribute(value=ast.Name() as mapping, attr="get"), args=args):
                values = set(self.global_value(mapping).values())
                return values | (self.strings(args[1]) if len(args) > 1 else set())
            case ast.BoolOp(values=values):
                return set().union(*map(self.strings, values))
            case ast.Await(value=value):
                return self.strings(value)
            case ast.Call(func=ast.Name(id=name), args=[*_]) if isinstance(
                function := self._module_function(expr, name),
                ast.FunctionDef | ast.AsyncFunctionDef,
            ):
                returns = self.nodes(ast.Return, function)
                return set().union(
                    *(
                        self.strings(ret.value)
                        for ret in returns
                        if ret.value is not None
                        and not (isinstance(ret.value, ast.Constant) and ret.value.value is None)
                    )
                )
            case ast.Name():
                return self._name_strings(expr)
        raise self.fail(expr, f"cannot tell which strings {ast.unparse(expr)} can be")

    def _module_function(self, node: ast.AST, name: str) -> ast.AST | None:
        """A function of the node's module, or one it imports from a sibling module."""
        tree = self.enclosing(node, ast.Module)
        assert tree is not None
        imported = getattr(self.modules[tree], name, None)
        home = getattr(imported, "__module__", None)
        for other, module in self.modules.items():
            if home is not None and module.__name__ == home:
                tree = other
        return next((item for item in tree.body if getattr(item, "name", None) == name), None)

    def _name_strings(self, node: ast.Name) -> set[str]:
        function = self.enclosing(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        if function is not None:
            if bound := self._bindings(function, node.id):
                return set().union(*bound)
            if node.id in _parameters(function):
                return set().union(
                    *(self.strings(arg) for arg in self.arguments(function, node.id))
                )
        value = self.global_value(node)
        if not isinstance(value, str):
            raise self.fail(node, f"{node.id} is not a string")
        return {value}

    def _bindings(self, function: Function, name: str) -> list[set[str]]:
        """The strings of every assignment to `name` inside a function."""
        found = []
        for node in self.nodes(ast.AST, function):
            match node:
                case (
                    ast.Assign(targets=[ast.Name(id=target)], value=value)
                    | ast.AnnAssign(target=ast.Name(id=target), value=ast.expr() as value)
                    | ast.NamedExpr(target=ast.Name(id=target), value=value)
                ) if target == name:
                    found.append(self.strings(value))
                case ast.For(target=ast.Tuple(elts=targets), iter=iterable) if any(
                    isinstance(t, ast.Name) and t.id == name for t in targets
                ):
                    index = next(
                        i for i, t in enumerate(targets) if isinstance(t, ast.Name) and t.id == name
                    )
                    found.append(self._loop_strings(iterable, index))
                case ast.For(target=ast.Name(id=target), iter=iterable) if target == name:
                    found.append(self._loop_strings(iterable, None))
        return found

    def _loop_strings(self, iterable: ast.expr, index: int | None) -> set[str]:
        """The strings a loop variable (or item `index` of it) takes over a tuple or constant."""
        if isinstance(iterable, ast.Tuple | ast.List):
            items = [
                item if index is None else item.elts[index]
                for item in iterable.elts
                if index is None or isinstance(item, ast.Tuple)
            ]
            return set().union(*map(self.strings, items))
        if isinstance(iterable, ast.Name):
            rows = self.global_value(iterable)
            return {row if index is None else row[index] for row in rows}
        raise self.fail(iterable, "cannot read the loop")

    def arguments(self, function: Function, parameter: str) -> list[ast.expr]:
        """What every call of `function` passes for `parameter`."""
        names = _parameters(function)
        position = names.index(parameter) - (1 if names[:1] in (["self"], ["cls"]) else 0)
        passed = []
        for call in self.nodes(ast.Call):
            match call.func:
                case ast.Name(id=called) | ast.Attribute(attr=called) if called == function.name:
                    pass
                case _:
                    continue
            if position < len(call.args):
                passed.append(call.args[position])
            else:
                passed += [kw.value for kw in call.keywords if kw.arg == parameter]
        assert passed, f"{function.name} is never called with {parameter}"
        return passed

    # Placeholders.

    def mapping_keys(self, expr: ast.expr | None) -> set[str]:
        """The keys of a dict of placeholders the code passes."""
        match expr:
            case None | ast.Constant(value=None):
                return set()
            case ast.Dict(keys=keys, values=values):
                found: set[str] = set()
                for key, value in zip(keys, values, strict=True):
                    found |= self.mapping_keys(value) if key is None else self.strings(key)
                return found
            case ast.Name():
                function = self.enclosing(expr, (ast.FunctionDef, ast.AsyncFunctionDef))
                if function is not None:
                    assigned = [
                        node.value
                        for node in self.nodes(ast.Assign, function)
                        if any(isinstance(t, ast.Name) and t.id == expr.id for t in node.targets)
                    ]
                    if assigned:
                        return set().union(*(self.mapping_keys(value) for value in assigned))
                value = self.global_value(expr)
                assert isinstance(value, Mapping), expr.id
                return set(value)
            case ast.Call(func=ast.Attribute(attr=name) | ast.Name(id=name)):
                tree = self.enclosing(expr, ast.Module)
                assert tree is not None
                functions = [
                    node for node in self.nodes(ast.FunctionDef, tree) if node.name == name
                ] or [node for node in self.nodes(ast.FunctionDef) if node.name == name]
                if functions:
                    returns = [r for f in functions for r in self.nodes(ast.Return, f)]
                    return set().union(*(self.mapping_keys(r.value) for r in returns))
        raise self.fail(expr, f"cannot tell the keys of {ast.unparse(expr)}")

    # Translation keys passed as `translation_key=`.

    def translation_keys(self) -> dict[str, dict[str, set[str]]]:
        """Category ("exceptions", "issues", "selector") -> key -> placeholders passed."""
        used: dict[str, dict[str, set[str]]] = {}
        for call in self.nodes(ast.Call):
            keyword = _keyword(call, "translation_key")
            if keyword is None:
                continue
            category = self._category(call)
            if category is None:
                continue
            for keys, names in self._call_sites(call, keyword):
                for key in keys:
                    used.setdefault(category, {}).setdefault(key, set()).update(names)
        return used

    def _category(self, call: ast.Call) -> str | None:
        match call.func:
            case ast.Attribute(attr="async_create_issue") | ast.Name(id="async_create_issue"):
                return "issues"
            case ast.Name(id=name) if name.endswith("SelectorConfig"):
                return "selector"
            case ast.Name(id=name):
                target = getattr(self.module_of(call), name, None)
                if isinstance(target, type) and issubclass(target, HomeAssistantError):
                    return "exceptions"
                if isinstance(target, type) and issubclass(target, EntityDescription):
                    return None  # Read from the descriptions themselves.
        raise self.fail(call, f"a translation_key of an unknown kind: {ast.unparse(call.func)}")

    def _call_sites(self, call: ast.Call, keyword: ast.expr) -> Iterator[tuple[set[str], set[str]]]:
        """(keys, placeholder names) for each place that decides them."""
        function = self.enclosing(call, (ast.FunctionDef, ast.AsyncFunctionDef))
        passed = _keyword(call, "translation_placeholders")
        forwarded = (
            function is not None
            and isinstance(keyword, ast.Name)
            and keyword.id in _parameters(function)
            and not self._bindings(function, keyword.id)
        )
        if not forwarded:
            yield self.strings(keyword), self.mapping_keys(passed)
            return
        assert function is not None
        assert isinstance(keyword, ast.Name)
        keys_passed = self.arguments(function, keyword.id)
        if isinstance(passed, ast.Name) and passed.id in _parameters(function):
            names_passed = self.arguments(function, passed.id)
        else:
            names_passed = [passed] * len(keys_passed)
        for key, names in zip(keys_passed, names_passed, strict=True):
            yield self.strings(key), self.mapping_keys(names)

    # Flows.

    def flows(self) -> dict[str, FlowUsage]:
        """What each flow class ("config", "options") shows."""
        found: dict[str, FlowUsage] = {}
        for cls in self.nodes(ast.ClassDef):
            bases = {ast.unparse(base) for base in cls.bases}
            section = (
                "options"
                if any("OptionsFlow" in base for base in bases)
                else "subentry"
                if any("ConfigSubentryFlow" in base for base in bases)
                else "config"
                if any("ConfigFlow" in base for base in bases)
                else None
            )
            if section is not None:
                found[section] = self._flow(cls)
        return found

    def _flow(self, cls: ast.ClassDef) -> FlowUsage:
        flow = FlowUsage()
        module = self.module_of(cls)
        for call in self.nodes(ast.Call, cls):
            match call.func:
                case ast.Attribute(attr="async_show_form"):
                    step_keyword = _keyword(call, "step_id")
                    assert step_keyword is not None
                    (step_id,) = self.strings(step_keyword)
                    flow.steps[step_id] = FormUsage(
                        fields=self._schema_fields(_keyword(call, "data_schema"), module),
                        placeholders=self.mapping_keys(_keyword(call, "description_placeholders")),
                        shows_errors=_keyword(call, "errors") is not None,
                    )
                case ast.Attribute(attr="async_abort"):
                    for reason in self.strings(_required_keyword(call, "reason")):
                        flow.aborts.add(reason)
                        flow.abort_placeholders[reason] = self.mapping_keys(
                            _keyword(call, "description_placeholders")
                        )
                case ast.Attribute(attr="_abort_if_unique_id_mismatch"):
                    reason = _keyword(call, "reason")
                    flow.aborts |= self.strings(reason) if reason else {"unique_id_mismatch"}
                case ast.Attribute(attr="_abort_if_unique_id_configured"):
                    reason = _keyword(call, "error")
                    flow.aborts |= self.strings(reason) if reason else {"already_configured"}
                case ast.Attribute(attr="async_update_reload_and_abort" | "async_update_and_abort"):
                    flow.aborts |= self._update_abort_reasons(call)
                case ast.Attribute(attr="async_set_unique_id"):
                    # Another flow for the same unique id aborts this one (the default).
                    progress = _keyword(call, "raise_on_progress")
                    if not (isinstance(progress, ast.Constant) and progress.value is False):
                        flow.aborts.add("already_in_progress")
        for node in self.nodes(ast.Assign, cls):
            match node.targets:
                case [ast.Subscript(value=ast.Name(id="errors"))]:
                    flow.errors |= self.strings(node.value)
                case [ast.Name(id="errors")]:
                    if isinstance(node.value, ast.Dict):
                        flow.errors |= set().union(*map(self.strings, node.value.values))
        return flow

    def _update_abort_reasons(self, call: ast.Call) -> set[str]:
        if (reason := _keyword(call, "reason")) is not None:
            return self.strings(reason)
        # Without a reason Home Assistant picks one by the flow's source. Current releases
        # take its text from Home Assistant's own strings, older ones from ours.
        step = self.enclosing(call, (ast.FunctionDef, ast.AsyncFunctionDef))
        assert step is not None
        if step.name.startswith("async_step_reconfigure"):
            return {"reconfigure_successful"}
        assert step.name.startswith("async_step_reauth"), step.name
        return {"reauth_successful"}

    def _schema_fields(self, expr: ast.expr | None, module: ModuleType) -> set[str]:
        """The fields of a form's schema, evaluated from the code."""
        match expr:
            case None:
                return set()
            case ast.Call(
                func=ast.Attribute(attr="add_suggested_values_to_schema"), args=[schema, *_]
            ):
                return self._schema_fields(schema, module)
            case ast.Name(id=name):
                function = self.enclosing(expr, (ast.FunctionDef, ast.AsyncFunctionDef))
                assigned = (
                    [
                        node.value
                        for node in self.nodes(ast.Assign, function)
                        if any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
                    ]
                    if function
                    else []
                )
                if assigned:
                    return set().union(*(self._schema_fields(v, module) for v in assigned))
            case ast.Call(func=ast.Attribute(attr="Schema"), args=[ast.Dict(keys=keys)]):
                # A schema written out where it is used, possibly with values known only
                # at run time (a choice among the entries that exist): its fields are
                # the first arguments of its markers.
                markers = [key.args[0] for key in keys if isinstance(key, ast.Call) and key.args]
                assert len(markers) == len(keys), ast.unparse(expr)
                return {str(_evaluate(marker, module)) for marker in markers}
        assert expr is not None
        # A schema built from module constants only: evaluate it as the module would.
        return {str(key) for key in _evaluate(expr, module).schema}


@dataclass
class FormUsage:
    """One form a flow shows."""

    fields: set[str]
    placeholders: set[str]
    shows_errors: bool


@dataclass
class FlowUsage:
    """What a flow class shows: forms by step, errors and abort reasons."""

    steps: dict[str, FormUsage] = field(default_factory=dict)
    errors: set[str] = field(default_factory=set)
    aborts: set[str] = field(default_factory=set)
    abort_placeholders: dict[str, set[str]] = field(default_factory=dict)
    """What an abort passes for its text, by reason (none for the others)."""


def _evaluate(expr: ast.expr, module: ModuleType) -> Any:
    """An expression of a module's code made of its constants, evaluated as the module would."""
    return eval(  # noqa: S307 - our own source code, to read the form's fields
        compile(ast.Expression(expr), module.__name__, "eval"), vars(module)
    )


def _parameters(function: Function) -> list[str]:
    arguments = function.args
    return [arg.arg for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]]


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((kw.value for kw in call.keywords if kw.arg == name), None)


def _required_keyword(call: ast.Call, name: str) -> ast.expr:
    value = _keyword(call, name)
    assert value is not None, f"{ast.unparse(call)} has no {name}"
    return value


@cache
def code() -> CodeReader:
    """The integration's code, read once (in a test, so that a failure is reported there)."""
    return CodeReader()


@pytest.mark.parametrize("section", SECTIONS)
def test_flow_forms_are_translated(section: str) -> None:
    flow = code().flows()[section]
    strings = section_strings(section)
    assert flow.steps.keys() == strings["step"].keys()
    for step_id, form in flow.steps.items():
        step = strings["step"][step_id]
        assert set(step.get("data", {})) == form.fields, step_id
        texts = list(leaves(step).values())
        if form.shows_errors:
            texts += strings.get("error", {}).values()
        needed = set().union(*map(placeholders, texts))
        # Every placeholder a text of the form needs is passed, and nothing else.
        assert form.placeholders == needed, step_id


@pytest.mark.parametrize("section", SECTIONS)
def test_flow_errors_and_aborts_are_translated(section: str) -> None:
    flow = code().flows()[section]
    strings = section_strings(section)
    assert flow.errors == set(strings.get("error", {}))
    assert flow.aborts == set(strings.get("abort", {}))
    # An abort's text gets exactly the placeholders its abort passes (most pass none).
    for reason, text in strings.get("abort", {}).items():
        assert placeholders(text) == flow.abort_placeholders.get(reason, set()), reason


def test_flow_reading_found_the_flows() -> None:
    # The sets above come from the code: make sure the reading saw what matters.
    flows = code().flows()
    assert {"invalid_url", "invalid_url_path", "invalid_auth", "token_busy", "unknown"} <= (
        flows["config"].errors
    )
    assert flows["config"].steps["user"].fields == {"url", "api_token", "wifi_sn"}
    assert flows["subentry"].steps["user"].fields == {"wifi_sn"}
    assert {"invalid_wifi_sn", "wifi_sn_not_found", "token_busy"} <= flows["subentry"].errors
    assert flows["options"].steps["init"].fields == {"scan_interval", "calls_kept_free"}


@pytest.mark.parametrize("category", ["exceptions", "issues"])
def test_exceptions_and_issues_are_translated(category: str) -> None:
    used = code().translation_keys().get(category, {})
    strings = EN.get(category, {})
    assert used.keys() == strings.keys()
    for key, passed in used.items():
        texts = leaves(strings[key]).values()
        assert passed == set().union(*map(placeholders, texts)), key


def test_selectors_are_translated() -> None:
    assert code().translation_keys().get("selector", {}).keys() == EN.get("selector", {}).keys()


def test_every_entity_and_state_is_translated() -> None:
    sensors = (*SENSORS_OF_THE_UPLOAD, API_CALLS_TODAY)
    for platform, descriptions in (("sensor", sensors), ("binary_sensor", BINARY_SENSORS)):
        strings = EN["entity"].get(platform, {})
        keyed = {d.translation_key: d for d in descriptions if d.translation_key is not None}
        assert keyed.keys() == strings.keys(), platform
        for key, description in keyed.items():
            options = getattr(description, "options", None) or []
            assert set(strings[key].get("state", {})) == set(options), key
            # No description passes name placeholders.
            assert not placeholders(strings[key]["name"]), key
    assert EN["entity"].keys() <= {"sensor", "binary_sensor"}


def test_icons_match_the_entities() -> None:
    for platform, entities in ICONS["entity"].items():
        for key, icons in entities.items():
            states = EN["entity"][platform][key].get("state", {})
            if platform == "binary_sensor":
                states = {"on": "", "off": ""}
            assert set(icons) <= {"default", "state"}, key
            assert set(icons.get("state", {})) <= set(states), key
            assert all(
                icon.startswith("mdi:")
                for icon in [icons["default"], *icons.get("state", {}).values()]
            ), key
    sensor_states = {
        key: set(entity["state"])
        for key, entity in EN["entity"]["sensor"].items()
        if "state" in entity
    }
    for key, states in sensor_states.items():
        assert set(ICONS["entity"]["sensor"][key]["state"]) == states, key
