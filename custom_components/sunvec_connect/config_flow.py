"""Config flow for Sunvec Connect: an account (address and token) and its inverters."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import math
import re
from types import MappingProxyType
from typing import Any, Final, NamedTuple, cast, override

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentry,
    ConfigSubentryFlow,
    OptionsFlow,
    SubentryFlowResult,
)
from homeassistant.const import CONF_API_TOKEN, CONF_URL
from homeassistant.core import HomeAssistant, callback
from homeassistant.data_entry_flow import FlowHandler
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.helpers.translation import async_get_translations
from homeassistant.util import dt as dt_util
import voluptuous as vol

from .account import account_title, account_unique_id
from .api import (
    REALTIME_PATH,
    RealtimeData,
    SunvecClient,
    SunvecError,
    SunvecInvalidInputError,
    SunvecRateLimitError,
    normalize_token,
    normalize_url,
    normalize_wifi_sn,
)
from .budget import token_budget
from .const import (
    CONF_CALLS_KEPT_FREE,
    CONF_SCAN_INTERVAL,
    CONF_WIFI_SN,
    DOMAIN,
    LOGGER,
    MAX_SCAN_INTERVAL,
    MIN_SCAN_INTERVAL,
    RATE_LIMIT_MARGIN,
    RATE_LIMIT_PER_MINUTE,
    SUBENTRY_INVERTER,
)
from .coordinator import SunvecConfigEntry
from .errors import form_error_key
from .pacing import DAY_SECONDS, MAX_NIGHT_INTERVAL

URL_ERROR_KEYS: Final[Mapping[str, str]] = {
    "scheme": "invalid_url_scheme",
    "host": "invalid_url_host",
    "path": "invalid_url_path",
    "credentials": "invalid_url_credentials",
    "line_break": "invalid_url_line_break",
}
"""Form error on the URL field for each reason the client refuses an address.

An empty address (and any reason not listed) gets the general invalid_url.
"""

EXAMPLE_URL: Final = "https://api.example.com"
FORM_PLACEHOLDERS: Final[Mapping[str, str]] = {
    "example_url": EXAMPLE_URL,
    "endpoint_path": f"/{REALTIME_PATH}",
}
"""Placeholders of every form's texts and of the errors it shows.

hassfest rejects any URL in a translation string, so the example address comes in here.
"""

URL_SELECTOR: Final = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))
TOKEN_SELECTOR: Final = TextSelector(
    TextSelectorConfig(type=TextSelectorType.PASSWORD, autocomplete="off")
)
WIFI_SNS_SELECTOR: Final = TextSelector(
    TextSelectorConfig(type=TextSelectorType.TEXT, multiline=True)
)
CONNECTION_SCHEMA: Final = vol.Schema(
    {vol.Required(CONF_URL): URL_SELECTOR, vol.Required(CONF_API_TOKEN): TOKEN_SELECTOR}
)
USER_SCHEMA: Final = CONNECTION_SCHEMA.extend({vol.Required(CONF_WIFI_SN): WIFI_SNS_SELECTOR})
INVERTERS_SCHEMA: Final = vol.Schema({vol.Required(CONF_WIFI_SN): WIFI_SNS_SELECTOR})

WIFI_SN_SEPARATORS: Final = re.compile(r"[\s,;]+")
MAX_WIFI_SNS: Final = 50
"""Registration numbers one form may add: checking 50 takes about 6 minutes of the
token's calls, and a token's daily quota cannot poll many more inverters anyway."""
MAX_SLOT_WAIT: Final = timedelta(minutes=5)
"""Checking a list, the flow waits this long at most for the token's next call slot."""
WIFI_SN_ERRORS: Final = frozenset(
    {"invalid_wifi_sn", "wifi_sn_not_authorized", "wifi_sn_not_found"}
)
"""Form errors about one registration number; any other concerns the address or token."""
SHOWN_LENGTH: Final = 40
"""Characters of a typed registration number the result shows."""
NONE_SHOWN: Final = "–"  # noqa: RUF001 - a dash, shown for an empty list


def _inverter_title(realtime: RealtimeData, wifi_sn: str) -> str:
    """The title of an inverter's subentry: its serial number, else its wifiSn."""
    return f"Sunvec {realtime.inverter_sn or wifi_sn}"


def split_wifi_sns(text: str) -> list[str]:
    """The registration numbers in a field: separated by commas, semicolons, spaces or lines."""
    return [item for item in WIFI_SN_SEPARATORS.split(text) if item]


def _shown(typed: str) -> str:
    """A registration number as typed, for a markdown text: inline code, shortened."""
    text = typed.replace("`", "'")
    if len(text) > SHOWN_LENGTH:
        text = f"{text[: SHOWN_LENGTH - 1]}…"
    return f"`{text}`"


def _markdown_list(lines: Iterable[str]) -> str:
    """Lines as a markdown list; a dash when there are none."""
    return "\n".join(f"- {line}" for line in lines) or NONE_SHOWN


def configured_wifi_sns(hass: HomeAssistant) -> set[str]:
    """The registration numbers of every account's inverters."""
    return {
        subentry.unique_id
        for entry in hass.config_entries.async_entries(DOMAIN, include_ignore=False)
        for subentry in entry.subentries.values()
        if subentry.unique_id is not None
    }


def inverter_subentry(wifi_sn: str, title: str) -> ConfigSubentry:
    """An account's subentry for one inverter."""
    return ConfigSubentry(
        data=MappingProxyType({CONF_WIFI_SN: wifi_sn}),
        subentry_type=SUBENTRY_INVERTER,
        title=title,
        unique_id=wifi_sn,
    )


async def async_wait_until(hass: HomeAssistant, when: datetime) -> None:
    """Wait until `when` on Home Assistant's clock (a timer, so that tests can move it)."""
    if when <= dt_util.utcnow():
        return
    woken: asyncio.Future[None] = hass.loop.create_future()

    @callback
    def wake(_now: datetime) -> None:
        woken.set_result(None)

    cancel = async_track_point_in_utc_time(hass, wake, when)
    try:
        await woken
    finally:
        cancel()


async def async_fetch_upload(
    hass: HomeAssistant, url: str, token: str, wifi_sn: str
) -> RealtimeData | Exception:
    """Call the cloud once (its budget slot taken): the upload, or the error (logged)."""
    client = SunvecClient(async_get_clientsession(hass), url, token)
    try:
        return await client.async_get_realtime_data(wifi_sn)
    except SunvecError as err:
        if isinstance(err, SunvecRateLimitError):
            # The inverters on this token must not call into the same pause.
            token_budget(hass, token).pause(dt_util.utcnow(), err.retry_after)
        LOGGER.debug("Checking the settings failed: %s", err)
        return err
    except Exception as err:  # noqa: BLE001 - the form must show "unknown", never crash
        LOGGER.exception("Unexpected error while checking the Sunvec Connect settings")
        return err


async def async_check_now(hass: HomeAssistant, inverters: InverterList, wifi_sn: str) -> str | None:
    """Check one inverter with a call in the token's current minute; the form error if any.

    An inverter the cloud knows is added to `inverters.checked`.
    """
    # The check is a call like any other: it takes a slot of the token's budget, so
    # that adding an inverter cannot push the token over the limit.
    budget = token_budget(hass, inverters.token)
    now = dt_util.utcnow()
    if not budget.try_call_now(now):
        return "rate_limited" if budget.is_paused(now) else "token_busy"
    realtime = await async_fetch_upload(hass, inverters.url, inverters.token, wifi_sn)
    if isinstance(realtime, Exception):
        return form_error_key(realtime)
    inverters.checked.append(CheckedInverter(wifi_sn, _inverter_title(realtime, wifi_sn)))
    return None


async def async_check_account(
    hass: HomeAssistant, data: Mapping[str, str], entry: ConfigEntry
) -> str | None:
    """Check an address and token with one of the account's inverters; the error if any."""
    wifi_sns = [
        subentry.data[CONF_WIFI_SN]
        for subentry in entry.subentries.values()
        if subentry.subentry_type == SUBENTRY_INVERTER
    ]
    if not wifi_sns:
        # Nothing to ask the cloud about: the token is checked with the first inverter.
        return None
    inverters = InverterList(url=data[CONF_URL], token=data[CONF_API_TOKEN], to_check=[])
    return await async_check_now(hass, inverters, wifi_sns[0])


def wifi_sns_error(typed: str) -> str | None:
    """The form error of the registration numbers field, if any."""
    items = split_wifi_sns(typed)
    if len(items) > MAX_WIFI_SNS:
        return "too_many_wifi_sns"
    for item in items:
        try:
            normalize_wifi_sn(item)
        except SunvecInvalidInputError:
            continue
        return None
    return "invalid_wifi_sn"


class CheckedInverter(NamedTuple):
    """An inverter of a list that the cloud answered for."""

    wifi_sn: str
    title: str


@dataclass(slots=True)
class InverterList:
    """The registration numbers of one form, and what the check made of each."""

    url: str
    token: str = field(repr=False)
    to_check: list[str]
    existing: list[str] = field(default_factory=list)
    """Already configured: not checked."""
    refused: list[tuple[str, str]] = field(default_factory=list)
    """As typed, with the form error that refused it."""
    checked: list[CheckedInverter] = field(default_factory=list)
    added: list[CheckedInverter] = field(default_factory=list)
    """Checked and not configured meanwhile: what the flow adds."""
    form_error: str | None = None
    """The address or token failed at the first check: back to the form with this error."""

    @classmethod
    def parse(cls, hass: HomeAssistant, url: str, token: str, typed: str) -> InverterList:
        """The numbers typed (see `wifi_sns_error`): to check, configured or malformed."""
        wifi_sns: dict[str, None] = {}
        malformed: dict[str, None] = {}
        for item in split_wifi_sns(typed):
            try:
                wifi_sns[normalize_wifi_sn(item)] = None
            except SunvecInvalidInputError:
                malformed[item] = None
        configured = configured_wifi_sns(hass)
        return cls(
            url=url,
            token=token,
            to_check=[wifi_sn for wifi_sn in wifi_sns if wifi_sn not in configured],
            existing=[wifi_sn for wifi_sn in wifi_sns if wifi_sn in configured],
            refused=[(item, "invalid_wifi_sn") for item in malformed],
        )

    @property
    def single(self) -> str | None:
        """The number, when exactly one was typed and it is to be checked."""
        if len(self.to_check) == 1 and not self.existing and not self.refused:
            return self.to_check[0]
        return None

    @property
    def single_configured(self) -> bool:
        """Exactly one number was typed, and it is configured already."""
        return len(self.existing) == 1 and not self.to_check and not self.refused

    def refusals(self, reasons: Mapping[str, str]) -> dict[str, str]:
        """The numbers configured already and those refused, for the result's text."""
        added = {inverter.wifi_sn for inverter in self.added}
        existing = self.existing + [i.wifi_sn for i in self.checked if i.wifi_sn not in added]
        return {
            "existing_count": str(len(existing)),
            "existing": _markdown_list(_shown(wifi_sn) for wifi_sn in existing),
            "refused_count": str(len(self.refused)),
            "refused": _markdown_list(
                f"{_shown(typed)}: {reasons.get(key, key)}" for typed, key in self.refused
            ),
        }

    def summary(self, reasons: Mapping[str, str]) -> dict[str, str]:
        """What became of each number, for the result's text."""
        return {
            **self.refusals(reasons),
            "added_count": str(len(self.added)),
            "added": _markdown_list(
                f"{inverter.title} ({_shown(inverter.wifi_sn)})" for inverter in self.added
            ),
        }


class InverterChecks:
    """Checks a list of numbers against the cloud, across minutes when it is long."""

    def __init__(
        self,
        flow: FlowHandler[Any, Any, Any],
        inverters: InverterList,
        entry_id: str | None = None,
    ) -> None:
        """Check `inverters` for `flow`, whose progress it updates (for the account `entry_id`)."""
        self._flow = flow
        self.inverters = inverters
        self.entry_id = entry_id
        self.task: asyncio.Task[None] | None = None

    @property
    def account_removed(self) -> bool:
        """The account the numbers are checked for was removed meanwhile."""
        return (
            self.entry_id is not None
            and self.hass.config_entries.async_get_entry(self.entry_id) is None
        )

    @property
    def hass(self) -> HomeAssistant:
        """The flow's Home Assistant."""
        return self._flow.hass

    def start(self) -> asyncio.Task[None]:
        """Start the check (once) and return its task."""
        if self.task is None:
            self.task = self.hass.async_create_background_task(
                self._async_check(), f"{DOMAIN} checks a list of inverters", eager_start=False
            )
        return self.task

    def progress_step(self) -> Any:
        """The flow's check step: progress, then its form or the result.

        The form when the address or token failed; the result otherwise, also when the
        account was removed meanwhile (that step says so).
        """
        task = self.start()
        if not task.done():
            return self._flow.async_show_progress(
                step_id="check_inverters",
                progress_action="check_inverters",
                progress_task=task,
                description_placeholders=self.placeholders(),
            )
        task.result()
        next_step = "user" if self.inverters.form_error is not None else "inverters_checked"
        return self._flow.async_show_progress_done(next_step_id=next_step)

    def take_form_errors(self) -> dict[str, str]:
        """The error of the address or token for the form, once."""
        error, self.inverters.form_error = self.inverters.form_error, None
        return {"base": error} if error is not None else {}

    def placeholders(self) -> dict[str, str]:
        """What the progress text says: how many numbers and how long."""
        count = len(self.inverters.to_check)
        per_minute = token_budget(self.hass, self.inverters.token).window_limit
        return {
            "count": str(count),
            "per_minute": str(per_minute),
            "minutes": str(math.ceil(count / per_minute)),
        }

    async def _async_check(self) -> None:
        """Check each wifiSn in turn, each call in a slot of the token's budget."""
        inverters = self.inverters
        for index, wifi_sn in enumerate(inverters.to_check):
            if self.account_removed:
                return
            if (error := await self._async_check_one(wifi_sn)) is not None:
                if error in WIFI_SN_ERRORS:
                    inverters.refused.append((wifi_sn, error))
                elif index == 0:
                    inverters.form_error = error
                    return
                else:
                    # The address or token failed, or the token's calls ran out: the
                    # numbers not checked yet would fail alike.
                    inverters.refused += [(sn, error) for sn in inverters.to_check[index:]]
                    return
            self._flow.async_update_progress((index + 1) / len(inverters.to_check))

    async def _async_check_one(self, wifi_sn: str) -> str | None:
        """Check one wifiSn in the token's next call slot; None when the cloud knows it."""
        inverters = self.inverters
        if (error := await self._async_wait_for_call_slot()) is not None:
            return error
        if self.account_removed:
            return None
        realtime = await async_fetch_upload(self.hass, inverters.url, inverters.token, wifi_sn)
        if isinstance(realtime, Exception):
            return form_error_key(realtime)
        inverters.checked.append(CheckedInverter(wifi_sn, _inverter_title(realtime, wifi_sn)))
        return None

    async def _async_wait_for_call_slot(self) -> str | None:
        """Take the token's next call slot and wait for it; else the form error why not."""
        budget = token_budget(self.hass, self.inverters.token)
        now = dt_util.utcnow()
        if budget.is_paused(now):
            return "rate_limited"
        slot = budget.reserve(now, spaced=False)
        if slot - now > MAX_SLOT_WAIT:
            budget.release(slot)
            return "token_busy"
        try:
            await async_wait_until(self.hass, slot)
        except asyncio.CancelledError:
            # The user closed the dialog: the call will not be made.
            budget.release(slot)
            raise
        if budget.is_paused(dt_util.utcnow()):
            # Another call of the token was rate limited meanwhile.
            budget.release(slot)
            return "rate_limited"
        return None

    async def async_reasons(self, section: str) -> dict[str, str]:
        """The form's error texts in Home Assistant's language, by error key."""
        prefix = f"component.{DOMAIN}.{section}.error."
        translations = await async_get_translations(
            self.hass, self.hass.config.language, section.split(".", 1)[0], {DOMAIN}
        )
        return {
            key.removeprefix(prefix): text
            for key, text in translations.items()
            if key.startswith(prefix)
        }


class SunvecConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a Sunvec Connect account (address and token) with one or several inverters."""

    VERSION = 2
    MINOR_VERSION = 1

    def __init__(self) -> None:
        """Start with nothing typed."""
        self._user_input: dict[str, Any] | None = None
        self._checks = InverterChecks(self, InverterList(url="", token="", to_check=[]))

    @staticmethod
    @callback
    @override
    def async_get_options_flow(config_entry: SunvecConfigEntry) -> SunvecOptionsFlow:
        """Options of an account."""
        return SunvecOptionsFlow()

    @classmethod
    @callback
    @override
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """An account's inverters are its subentries."""
        return {SUBENTRY_INVERTER: InverterSubentryFlow}

    @staticmethod
    def _normalize_connection(typed: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        """Normalize a typed address and token; return (data, errors by field)."""
        data: dict[str, str] = {}
        errors: dict[str, str] = {}
        try:
            data[CONF_URL] = normalize_url(typed[CONF_URL])
        except SunvecInvalidInputError as err:
            errors[CONF_URL] = URL_ERROR_KEYS.get(err.reason, "invalid_url")
        try:
            data[CONF_API_TOKEN] = normalize_token(typed[CONF_API_TOKEN])
        except SunvecInvalidInputError:
            errors[CONF_API_TOKEN] = "invalid_token"
        return data, errors

    def _account(self, data: Mapping[str, str]) -> ConfigEntry | None:
        """The account of this address and token, if it is configured."""
        unique_id = account_unique_id(data[CONF_URL], data[CONF_API_TOKEN])
        return self.hass.config_entries.async_entry_for_domain_unique_id(DOMAIN, unique_id)

    def _show_user_form(self, errors: dict[str, str]) -> ConfigFlowResult:
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(USER_SCHEMA, self._user_input),
            description_placeholders=FORM_PLACEHOLDERS,
            errors=errors,
        )

    @override
    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the API address, the token and the registration numbers."""
        if user_input is None:
            # Shown anew after a list's check failed on the address or token.
            return self._show_user_form(self._checks.take_form_errors())
        self._user_input = user_input
        data, errors = self._normalize_connection(user_input)
        if (error := wifi_sns_error(user_input[CONF_WIFI_SN])) is not None:
            errors[CONF_WIFI_SN] = error
        if errors:
            return self._show_user_form(errors)
        inverters = InverterList.parse(
            self.hass, data[CONF_URL], data[CONF_API_TOKEN], user_input[CONF_WIFI_SN]
        )
        if inverters.single_configured:
            return self.async_abort(reason="inverter_configured")
        if inverters.single is not None:
            # One number: checked at once, its errors shown on the form.
            if (error := await async_check_now(self.hass, inverters, inverters.single)) is not None:
                errors["base"] = error
                return self._show_user_form(errors)
            self._checks = InverterChecks(self, inverters)
            return await self.async_step_inverters_checked()
        self._checks = InverterChecks(self, inverters)
        if not inverters.to_check:
            return await self.async_step_inverters_checked()
        return await self.async_step_check_inverters()

    async def async_step_check_inverters(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Check the listed numbers against the cloud, with progress."""
        return cast("ConfigFlowResult", self._checks.progress_step())

    async def async_step_inverters_checked(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Add the account with every inverter the cloud accepted, or add them to it."""
        inverters = self._checks.inverters
        if user_input is not None:
            # Nothing was added: back to the form, with the refused numbers to correct.
            self._user_input = {
                **(self._user_input or {}),
                CONF_WIFI_SN: "\n".join(typed for typed, _ in inverters.refused),
            }
            return self._show_user_form({})
        configured = configured_wifi_sns(self.hass)
        inverters.added = [i for i in inverters.checked if i.wifi_sn not in configured]
        reasons = await self._checks.async_reasons("config")
        if not inverters.added:
            return self.async_show_form(
                step_id="inverters_checked", description_placeholders=inverters.refusals(reasons)
            )
        summary = inverters.summary(reasons)
        data = {CONF_URL: inverters.url, CONF_API_TOKEN: inverters.token}
        subentries = [inverter_subentry(i.wifi_sn, i.title) for i in inverters.added]
        if (account := self._account(data)) is not None:
            # One account per token: the inverters join it.
            for subentry in subentries:
                self.hass.config_entries.async_add_subentry(account, subentry)
            return self.async_abort(
                reason="added_to_account",
                description_placeholders={**summary, "account": account.title},
            )
        await self.async_set_unique_id(account_unique_id(inverters.url, inverters.token))
        self._abort_if_unique_id_configured()
        return self.async_create_entry(
            title=account_title(inverters.url),
            data=data,
            subentries=[
                {
                    "subentry_type": subentry.subentry_type,
                    "data": dict(subentry.data),
                    "title": subentry.title,
                    "unique_id": subentry.unique_id,
                }
                for subentry in subentries
            ],
            description="inverters_added",
            description_placeholders=summary,
        )

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """Start re-authentication when the account's token stopped working."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the account's new token; every inverter polls with it afterwards."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data, errors = self._normalize_connection({**entry.data, **user_input})
            if not errors and (error := await async_check_account(self.hass, data, entry)) is None:
                # The account reloads (its update listener): every inverter polls with it.
                return self.async_update_and_abort(
                    entry,
                    unique_id=account_unique_id(data[CONF_URL], data[CONF_API_TOKEN]),
                    data_updates={CONF_API_TOKEN: data[CONF_API_TOKEN]},
                )
            if not errors:
                errors["base"] = error or "unknown"
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=vol.Schema({vol.Required(CONF_API_TOKEN): TOKEN_SELECTOR}),
            description_placeholders={**FORM_PLACEHOLDERS, "name": entry.title},
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the API address and token of an account."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data, errors = self._normalize_connection(user_input)
            if not errors:
                other = self._account(data)
                if other is not None and other.entry_id != entry.entry_id:
                    return self.async_abort(reason="already_configured")
                if (error := await async_check_account(self.hass, data, entry)) is None:
                    return self.async_update_and_abort(
                        entry,
                        unique_id=account_unique_id(data[CONF_URL], data[CONF_API_TOKEN]),
                        data_updates=data,
                    )
                errors["base"] = error
        suggested = user_input or {CONF_URL: entry.data[CONF_URL]}
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(CONNECTION_SCHEMA, suggested),
            description_placeholders=FORM_PLACEHOLDERS,
            errors=errors,
        )


class InverterSubentryFlow(ConfigSubentryFlow):
    """Add one or several inverters to an account."""

    def __init__(self) -> None:
        """Start with nothing typed."""
        self._typed: dict[str, Any] | None = None
        self._checks = InverterChecks(self, InverterList(url="", token="", to_check=[]))

    def _show_form(self, errors: dict[str, str]) -> SubentryFlowResult:
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(INVERTERS_SCHEMA, self._typed),
            errors=errors,
        )

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Ask for the registration numbers of the inverters to add."""
        if user_input is None:
            return self._show_form(self._checks.take_form_errors())
        self._typed = user_input
        errors: dict[str, str] = {}
        if (error := wifi_sns_error(user_input[CONF_WIFI_SN])) is not None:
            errors[CONF_WIFI_SN] = error
            return self._show_form(errors)
        entry = self._get_entry()
        url, token = entry.data[CONF_URL], entry.data[CONF_API_TOKEN]
        inverters = InverterList.parse(self.hass, url, token, user_input[CONF_WIFI_SN])
        self._checks = InverterChecks(self, inverters, entry.entry_id)
        if inverters.single_configured:
            return self.async_abort(reason="already_configured")
        if inverters.single is not None:
            if (error := await async_check_now(self.hass, inverters, inverters.single)) is not None:
                errors["base"] = error
                return self._show_form(errors)
            return await self.async_step_inverters_checked()
        if not inverters.to_check:
            return await self.async_step_inverters_checked()
        return await self.async_step_check_inverters()

    async def async_step_check_inverters(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Check the listed numbers against the cloud, with progress."""
        return cast("SubentryFlowResult", self._checks.progress_step())

    async def async_step_inverters_checked(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Add every inverter the cloud accepted and say what became of each number."""
        if self._checks.account_removed:
            return self.async_abort(reason="account_removed")
        inverters = self._checks.inverters
        if user_input is not None:
            self._typed = {CONF_WIFI_SN: "\n".join(typed for typed, _ in inverters.refused)}
            return self._show_form({})
        configured = configured_wifi_sns(self.hass)
        inverters.added = [i for i in inverters.checked if i.wifi_sn not in configured]
        reasons = await self._checks.async_reasons(f"config_subentries.{SUBENTRY_INVERTER}")
        if not inverters.added:
            return self.async_show_form(
                step_id="inverters_checked", description_placeholders=inverters.refusals(reasons)
            )
        summary = inverters.summary(reasons)
        first, *others = inverters.added
        entry = self._get_entry()
        for other in others:
            self.hass.config_entries.async_add_subentry(
                entry, inverter_subentry(other.wifi_sn, other.title)
            )
        return self.async_create_entry(
            title=first.title,
            data={CONF_WIFI_SN: first.wifi_sn},
            unique_id=first.wifi_sn,
            description="inverters_added",
            description_placeholders=summary,
        )


MIN_PACED_CALLS: Final = DAY_SECONDS / MAX_NIGHT_INTERVAL
"""Calls a day an inverter under the token's pace needs at the least (one an hour)."""


class SunvecOptionsFlow(OptionsFlow):
    """Options of an account: its polling and what its token leaves to other apps."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Choose how often the cloud is polled and what the token leaves to other apps."""
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            # An emptied field goes back to its default: the key is not stored.
            options: dict[str, int] = {
                key: int(user_input[key])
                for key in (CONF_SCAN_INTERVAL, CONF_CALLS_KEPT_FREE)
                if user_input.get(key) is not None
            }
            calls, limit = self._calls_a_day(options)
            if calls <= limit:
                return self.async_create_entry(data=options)
            errors[CONF_SCAN_INTERVAL] = "interval_over_budget"
            placeholders = {"calls": f"{calls:,}", "limit": f"{limit:,}"}
        schema = vol.Schema(
            {
                vol.Optional(CONF_SCAN_INTERVAL): NumberSelector(
                    NumberSelectorConfig(
                        min=MIN_SCAN_INTERVAL.total_seconds(),
                        max=MAX_SCAN_INTERVAL.total_seconds(),
                        step=1,
                        unit_of_measurement="s",
                        mode=NumberSelectorMode.BOX,
                    )
                ),
                # At most 8 of the token's 10 calls a minute: 2 stay for its inverters.
                vol.Optional(CONF_CALLS_KEPT_FREE): NumberSelector(
                    NumberSelectorConfig(
                        min=0, max=RATE_LIMIT_PER_MINUTE - 2, step=1, mode=NumberSelectorMode.BOX
                    )
                ),
            }
        )
        suggested = {
            CONF_CALLS_KEPT_FREE: RATE_LIMIT_MARGIN,
            **(user_input or self.config_entry.options),
        }
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(schema, suggested),
            errors=errors,
            description_placeholders=placeholders,
        )

    def _calls_a_day(self, options: Mapping[str, int]) -> tuple[int, int]:
        """The calls a day the token's inverters need with `options`, and what it allows.

        At a fixed interval an inverter takes what it asks; under the token's pace each
        needs at least a call an hour (the slowest pace). A fixed interval that the day
        cannot carry would leave every inverter of the token dark for hours.
        """
        mine = set(self.config_entry.subentries)
        budget = token_budget(self.hass, self.config_entry.data[CONF_API_TOKEN])
        others = [demand for key, demand in budget.demands.items() if key not in mine]
        calls = sum(DAY_SECONDS / d.cadence if not d.paced else MIN_PACED_CALLS for d in others)
        interval = options.get(CONF_SCAN_INTERVAL)
        calls += max(1, len(mine)) * (DAY_SECONDS / interval if interval else MIN_PACED_CALLS)
        kept_free = options.get(CONF_CALLS_KEPT_FREE, RATE_LIMIT_MARGIN)
        kept = max([kept_free, *(v for k, v in budget.kept_free.items() if k not in mine)])
        limit = max(1, budget.per_day - 10 * kept)
        return math.ceil(calls), limit
