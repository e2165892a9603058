"""Config flow for Sunvec Connect."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import math
import re
from typing import Any, Final, NamedTuple, override

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlowWithReload,
)
from homeassistant.const import CONF_API_TOKEN, CONF_URL
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.helpers.translation import async_get_translations
from homeassistant.util import dt as dt_util
import voluptuous as vol

from .api import (
    REALTIME_PATH,
    RealtimeData,
    SunvecAuthenticationError,
    SunvecClient,
    SunvecConnectionError,
    SunvecError,
    SunvecInvalidInputError,
    SunvecInvalidParameterError,
    SunvecMalformedResponseError,
    SunvecNotAuthorizedError,
    SunvecNotFoundError,
    SunvecRateLimitError,
    SunvecServerError,
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
)
from .coordinator import SunvecConfigEntry
from .handover import CheckedUpload, keep_checked_upload
from .pacing import DAY_SECONDS, MAX_NIGHT_INTERVAL

ERROR_KEYS: Final[tuple[tuple[type[SunvecError], str], ...]] = (
    (SunvecAuthenticationError, "invalid_auth"),
    (SunvecNotAuthorizedError, "wifi_sn_not_authorized"),
    (SunvecNotFoundError, "wifi_sn_not_found"),
    (SunvecInvalidParameterError, "invalid_wifi_sn"),
    (SunvecRateLimitError, "rate_limited"),
    (SunvecConnectionError, "cannot_connect"),
    (SunvecServerError, "cannot_connect"),
    (SunvecMalformedResponseError, "invalid_response"),
)
"""Form error for each client error, most specific first."""

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
WIFI_SN_SELECTOR: Final = TextSelector(TextSelectorConfig(type=TextSelectorType.TEXT))
WIFI_SNS_SELECTOR: Final = TextSelector(
    TextSelectorConfig(type=TextSelectorType.TEXT, multiline=True)
)


CONNECTION_SCHEMA: Final = vol.Schema(
    {
        vol.Required(CONF_URL): URL_SELECTOR,
        vol.Required(CONF_API_TOKEN): TOKEN_SELECTOR,
        vol.Required(CONF_WIFI_SN): WIFI_SN_SELECTOR,
    }
)
USER_SCHEMA: Final = vol.Schema(
    {
        vol.Required(CONF_URL): URL_SELECTOR,
        vol.Required(CONF_API_TOKEN): TOKEN_SELECTOR,
        vol.Required(CONF_WIFI_SN): WIFI_SNS_SELECTOR,
    }
)
"""The user step before any entry exists: one or several wifiSns."""

SETTINGS_NORMALIZERS: Final[tuple[tuple[str, Callable[[str], str], str], ...]] = (
    (CONF_URL, normalize_url, "invalid_url"),
    (CONF_API_TOKEN, normalize_token, "invalid_token"),
    (CONF_WIFI_SN, normalize_wifi_sn, "invalid_wifi_sn"),
)
"""Each setting, the function that normalizes it and the form error when it refuses it."""

CONF_CONNECTION: Final = "connection"
NEW_CONNECTION: Final = "new"
"""The choice of the connection field that means: the address and token typed below."""
SOURCE_LISTED_INVERTER: Final = "listed_inverter"
"""The source of the flows the user flow starts for the second and later inverters of a
list it checked; no user can start one (the frontend only starts user flows)."""
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


def _error_key(err: Exception) -> str:
    """The form error for an error of a check."""
    for error_type, key in ERROR_KEYS:
        if isinstance(err, error_type):
            return key
    return "unknown"


def _entry_title(realtime: RealtimeData, wifi_sn: str) -> str:
    """The title of an inverter's entry: its serial number, else its wifiSn."""
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
    form_error: str | None = None
    """The address or token failed at the first check: back to the form with this error."""

    def entry_data(self, wifi_sn: str) -> dict[str, str]:
        """The data of an inverter's entry, as when it is added alone."""
        return {CONF_URL: self.url, CONF_API_TOKEN: self.token, CONF_WIFI_SN: wifi_sn}


class SunvecConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up Sunvec Connect inverters: one, or several on one token."""

    VERSION = 1
    MINOR_VERSION = 1

    def __init__(self) -> None:
        """Start with nothing typed."""
        self._user_input: dict[str, Any] | None = None
        self._form_errors: dict[str, str] = {}
        self._inverters = InverterList(url="", token="", to_check=[])
        self._check_task: asyncio.Task[None] | None = None

    @staticmethod
    @callback
    @override
    def async_get_options_flow(config_entry: SunvecConfigEntry) -> SunvecOptionsFlow:
        """Options of an entry."""
        return SunvecOptionsFlow()

    def _normalize_settings(
        self, typed: Mapping[str, str]
    ) -> tuple[dict[str, str], dict[str, str]]:
        """Normalize the settings given; return (data, errors by field)."""
        data: dict[str, str] = {}
        errors: dict[str, str] = {}
        for key, normalize, error in SETTINGS_NORMALIZERS:
            if key not in typed:
                continue
            try:
                data[key] = normalize(typed[key])
            except SunvecInvalidInputError as err:
                errors[key] = URL_ERROR_KEYS.get(err.reason, error) if key == CONF_URL else error
        return data, errors

    async def _async_fetch_upload(self, data: Mapping[str, str]) -> RealtimeData | Exception:
        """Call the cloud once (its budget slot taken): the upload, or the error (logged)."""
        client = SunvecClient(
            async_get_clientsession(self.hass),
            data[CONF_URL],
            data[CONF_API_TOKEN],
            data[CONF_WIFI_SN],
        )
        try:
            return await client.async_get_realtime_data()
        except SunvecError as err:
            if isinstance(err, SunvecRateLimitError):
                # The entries on this token must not call into the same pause.
                token_budget(self.hass, data[CONF_API_TOKEN]).pause(
                    dt_util.utcnow(), err.retry_after
                )
            LOGGER.debug("Validating the settings failed: %s", err)
            return err
        except Exception as err:  # noqa: BLE001 - the form must show "unknown", never crash
            LOGGER.exception("Unexpected error while validating the Sunvec Connect settings")
            return err

    async def _async_validate(
        self, url: str, token: str, wifi_sn: str
    ) -> tuple[dict[str, str], dict[str, str], RealtimeData | None]:
        """Check the settings with one call; return (data, errors, first upload)."""
        data, errors = self._normalize_settings(
            {CONF_URL: url, CONF_API_TOKEN: token, CONF_WIFI_SN: wifi_sn}
        )
        if errors:
            return data, errors, None
        # The check is a call like any other: it takes a slot of the token's shared
        # budget, so that adding a second inverter cannot push the token over the limit.
        budget = token_budget(self.hass, data[CONF_API_TOKEN])
        now = dt_util.utcnow()
        if not budget.try_call_now(now):
            errors["base"] = "rate_limited" if budget.is_paused(now) else "token_busy"
            return data, errors, None
        realtime = await self._async_fetch_upload(data)
        if isinstance(realtime, Exception):
            errors["base"] = _error_key(realtime)
            return data, errors, None
        return data, errors, realtime

    def _reusable_entries(self) -> dict[str, ConfigEntry]:
        """The entries whose address and token a new inverter may use, by id, by title."""
        entries = [
            entry
            for entry in self._async_current_entries(include_ignore=False)
            if isinstance(entry.data.get(CONF_URL), str)
            and isinstance(entry.data.get(CONF_API_TOKEN), str)
        ]
        return {
            entry.entry_id: entry for entry in sorted(entries, key=lambda e: e.title.casefold())
        }

    @callback
    def _async_show_user_form(
        self, suggested: Mapping[str, Any] | None, errors: dict[str, str]
    ) -> ConfigFlowResult:
        """The user step's form; with entries, it offers to reuse their address and token.

        The choice shows the entries' titles only: a reused token is never sent back.
        """
        schema = USER_SCHEMA
        reusable = self._reusable_entries()
        # A choice no longer offered (its entry was removed) falls back to a new address.
        suggested = {
            key: value
            for key, value in (suggested or {}).items()
            if key != CONF_CONNECTION or value in reusable
        }
        if reusable:
            schema = vol.Schema(
                {
                    vol.Optional(CONF_CONNECTION, default=NEW_CONNECTION): SelectSelector(
                        SelectSelectorConfig(
                            options=[
                                SelectOptionDict(value=NEW_CONNECTION, label=NEW_CONNECTION),
                                *(
                                    SelectOptionDict(value=entry_id, label=entry.title)
                                    for entry_id, entry in reusable.items()
                                ),
                            ],
                            translation_key=CONF_CONNECTION,
                            mode=SelectSelectorMode.DROPDOWN,
                        )
                    ),
                    vol.Optional(CONF_URL): URL_SELECTOR,
                    vol.Optional(CONF_API_TOKEN): TOKEN_SELECTOR,
                    vol.Required(CONF_WIFI_SN): WIFI_SNS_SELECTOR,
                }
            )
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(schema, suggested),
            description_placeholders=FORM_PLACEHOLDERS,
            errors=errors,
        )

    @override
    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the API address and token (or an entry to take them from) and the wifiSns."""
        if user_input is None:
            # Shown anew after a list's check failed on the address or token.
            shown_errors, self._form_errors = self._form_errors, {}
            return self._async_show_user_form(self._user_input, shown_errors)
        self._user_input = user_input
        errors: dict[str, str] = {}
        url: str = user_input.get(CONF_URL, "")
        token: str = user_input.get(CONF_API_TOKEN, "")
        if (connection := user_input.get(CONF_CONNECTION, NEW_CONNECTION)) != NEW_CONNECTION:
            reused = self._reusable_entries().get(connection)
            if url.strip() or token.strip():
                errors[CONF_CONNECTION] = "reuse_or_new"
            elif reused is None:
                errors[CONF_CONNECTION] = "reused_entry_removed"
            else:
                url, token = reused.data[CONF_URL], reused.data[CONF_API_TOKEN]
        if not errors:
            if len(wifi_sns := split_wifi_sns(user_input[CONF_WIFI_SN])) > 1:
                return await self._async_check_list(url, token, wifi_sns)
            data, errors, realtime = await self._async_validate(
                url, token, user_input[CONF_WIFI_SN]
            )
            if realtime is not None:
                await self.async_set_unique_id(data[CONF_WIFI_SN])
                self._abort_if_unique_id_configured()
                self._hand_over(data, realtime)
                return self.async_create_entry(
                    title=_entry_title(realtime, data[CONF_WIFI_SN]), data=data
                )
        return self._async_show_user_form(user_input, errors)

    async def _async_check_list(self, url: str, token: str, typed: list[str]) -> ConfigFlowResult:
        """Start checking several wifiSns, once the address, token and list are valid."""
        data, errors = self._normalize_settings({CONF_URL: url, CONF_API_TOKEN: token})
        wifi_sns: dict[str, None] = {}
        malformed: dict[str, None] = {}
        for item in typed:
            try:
                wifi_sns[normalize_wifi_sn(item)] = None
            except SunvecInvalidInputError:
                malformed[item] = None
        if len(wifi_sns) + len(malformed) > MAX_WIFI_SNS:
            errors[CONF_WIFI_SN] = "too_many_wifi_sns"
        elif not wifi_sns:
            errors[CONF_WIFI_SN] = "invalid_wifi_sn"
        if errors:
            return self._async_show_user_form(self._user_input, errors)
        configured = self._async_current_ids()
        self._inverters = InverterList(
            url=data[CONF_URL],
            token=data[CONF_API_TOKEN],
            to_check=[wifi_sn for wifi_sn in wifi_sns if wifi_sn not in configured],
            existing=[wifi_sn for wifi_sn in wifi_sns if wifi_sn in configured],
            refused=[(item, "invalid_wifi_sn") for item in malformed],
        )
        if not self._inverters.to_check:
            return await self.async_step_inverters_checked()
        return await self.async_step_check_inverters()

    async def async_step_check_inverters(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Check the listed wifiSns against the cloud, across minutes when the list is long."""
        inverters = self._inverters
        if self._check_task is None:
            self._check_task = self.hass.async_create_background_task(
                self._async_check_inverters(inverters),
                f"{DOMAIN} checks a list of inverters",
                eager_start=False,
            )
        if not self._check_task.done():
            count = len(inverters.to_check)
            per_minute = token_budget(self.hass, inverters.token).window_limit
            return self.async_show_progress(
                # Also when the user step shows it: the end of the check comes back here.
                step_id="check_inverters",
                progress_action="check_inverters",
                progress_task=self._check_task,
                description_placeholders={
                    "count": str(count),
                    "per_minute": str(per_minute),
                    "minutes": str(math.ceil(count / per_minute)),
                },
            )
        self._check_task.result()
        self._check_task = None
        if inverters.form_error is not None:
            self._form_errors = {"base": inverters.form_error}
            return self.async_show_progress_done(next_step_id="user")
        return self.async_show_progress_done(next_step_id="inverters_checked")

    async def _async_check_inverters(self, inverters: InverterList) -> None:
        """Check each wifiSn in turn, each call in a slot of the token's budget."""
        for index, wifi_sn in enumerate(inverters.to_check):
            if (error := await self._async_check_one(inverters, wifi_sn)) is not None:
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
            self.async_update_progress((index + 1) / len(inverters.to_check))

    async def _async_check_one(self, inverters: InverterList, wifi_sn: str) -> str | None:
        """Check one wifiSn in the token's next call slot; None when the cloud knows it."""
        if (error := await self._async_wait_for_call_slot(inverters.token)) is not None:
            return error
        data = inverters.entry_data(wifi_sn)
        realtime = await self._async_fetch_upload(data)
        if isinstance(realtime, Exception):
            return _error_key(realtime)
        inverters.checked.append(CheckedInverter(wifi_sn, _entry_title(realtime, wifi_sn)))
        self._hand_over(data, realtime)
        return None

    @callback
    def _hand_over(self, data: Mapping[str, str], realtime: RealtimeData) -> None:
        """Let the entry made from `data` start from the upload its check fetched."""
        keep_checked_upload(
            self.hass,
            data[CONF_URL],
            data[CONF_API_TOKEN],
            data[CONF_WIFI_SN],
            CheckedUpload(realtime, dt_util.utcnow()),
        )

    async def _async_wait_for_call_slot(self, token: str) -> str | None:
        """Take the token's next call slot and wait for it; else the form error why not."""
        budget = token_budget(self.hass, token)
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

    async def _async_error_texts(self) -> dict[str, str]:
        """The form's error texts in Home Assistant's language, by error key."""
        prefix = f"component.{DOMAIN}.config.error."
        translations = await async_get_translations(
            self.hass, self.hass.config.language, "config", {DOMAIN}
        )
        return {
            key.removeprefix(prefix): text
            for key, text in translations.items()
            if key.startswith(prefix)
        }

    async def async_step_inverters_checked(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Add every inverter the cloud accepted and say what became of each number."""
        inverters = self._inverters
        if user_input is not None:
            # Nothing was added: back to the form, with the refused numbers to correct.
            return self._async_show_user_form(
                {
                    **(self._user_input or {}),
                    CONF_WIFI_SN: "\n".join(typed for typed, _ in inverters.refused),
                },
                {},
            )
        configured = self._async_current_ids()
        added = [inverter for inverter in inverters.checked if inverter.wifi_sn not in configured]
        # Added meanwhile by another flow: already configured as well.
        existing = inverters.existing + [
            inverter.wifi_sn for inverter in inverters.checked if inverter.wifi_sn in configured
        ]
        reasons = await self._async_error_texts()
        summary = {
            "existing_count": str(len(existing)),
            "existing": _markdown_list(_shown(wifi_sn) for wifi_sn in existing),
            "refused_count": str(len(inverters.refused)),
            "refused": _markdown_list(
                f"{_shown(typed)}: {reasons.get(key, key)}" for typed, key in inverters.refused
            ),
        }
        if not added:
            return self.async_show_form(
                step_id="inverters_checked", description_placeholders=summary
            )
        first, *others = added
        for other in others:
            # Each in its own flow, so that it becomes an entry exactly as if added alone.
            self.hass.async_create_task(
                self.hass.config_entries.flow.async_init(
                    DOMAIN,
                    context={"source": SOURCE_LISTED_INVERTER},
                    data={"title": other.title, "data": inverters.entry_data(other.wifi_sn)},
                ),
                f"{DOMAIN} adds a listed inverter",
            )
        await self.async_set_unique_id(first.wifi_sn)
        self._abort_if_unique_id_configured()
        return self.async_create_entry(
            title=first.title,
            data=inverters.entry_data(first.wifi_sn),
            description="inverters_added",
            description_placeholders={
                **summary,
                "added_count": str(len(added)),
                "added": _markdown_list(
                    f"{inverter.title} ({_shown(inverter.wifi_sn)})" for inverter in added
                ),
            },
        )

    async def async_step_listed_inverter(self, listed: dict[str, Any]) -> ConfigFlowResult:
        """Add one inverter of a list that the user's flow has checked."""
        data: dict[str, str] = listed["data"]
        await self.async_set_unique_id(data[CONF_WIFI_SN])
        self._abort_if_unique_id_configured()
        return self.async_create_entry(title=listed["title"], data=data)

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """Start re-authentication when the token stopped working."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for a new token and check it against the same inverter."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data, errors, realtime = await self._async_validate(
                entry.data[CONF_URL], user_input[CONF_API_TOKEN], entry.data[CONF_WIFI_SN]
            )
            if realtime is not None:
                return self.async_update_reload_and_abort(
                    entry, data_updates={CONF_API_TOKEN: data[CONF_API_TOKEN]}
                )
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=vol.Schema({vol.Required(CONF_API_TOKEN): TOKEN_SELECTOR}),
            description_placeholders={**FORM_PLACEHOLDERS, "name": entry.title},
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the API address and token of an existing inverter."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data, errors, realtime = await self._async_validate(
                user_input[CONF_URL], user_input[CONF_API_TOKEN], user_input[CONF_WIFI_SN]
            )
            if realtime is not None:
                await self.async_set_unique_id(data[CONF_WIFI_SN])
                self._abort_if_unique_id_mismatch(reason="wifi_sn_mismatch")
                return self.async_update_reload_and_abort(entry, data_updates=data)
        suggested = user_input or {
            CONF_URL: entry.data[CONF_URL],
            CONF_WIFI_SN: entry.data[CONF_WIFI_SN],
        }
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(CONNECTION_SCHEMA, suggested),
            description_placeholders=FORM_PLACEHOLDERS,
            errors=errors,
        )


MIN_PACED_CALLS: Final = DAY_SECONDS / MAX_NIGHT_INTERVAL
"""Calls a day an inverter under the token's pace needs at the least (one an hour)."""


class SunvecOptionsFlow(OptionsFlowWithReload):
    """Options of a Sunvec Connect entry."""

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

        Inverters polled at a fixed interval take what they ask; each paced inverter
        needs at least a call an hour (the slowest pace). A fixed interval that the day
        cannot carry would leave every inverter of the token dark for hours.
        """
        budget = token_budget(self.hass, self.config_entry.data[CONF_API_TOKEN])
        entry_id = self.config_entry.entry_id
        kept_free = options.get(CONF_CALLS_KEPT_FREE, RATE_LIMIT_MARGIN)
        others = [demand for key, demand in budget.demands.items() if key != entry_id]
        calls = sum(DAY_SECONDS / d.cadence if not d.paced else MIN_PACED_CALLS for d in others)
        interval = options.get(CONF_SCAN_INTERVAL)
        calls += DAY_SECONDS / interval if interval else MIN_PACED_CALLS
        kept = max([kept_free, *(v for k, v in budget.kept_free.items() if k != entry_id)])
        limit = max(1, budget.per_day - 10 * kept)
        return math.ceil(calls), limit
