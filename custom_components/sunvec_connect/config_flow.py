"""Config flow for Sunvec Connect: an account (address and token) and its inverters."""

from __future__ import annotations

from collections.abc import Mapping
import math
from typing import Any, Final, cast, override

from homeassistant.config_entries import (
    SOURCE_REAUTH,
    ConfigEntry,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlow,
    SubentryFlowResult,
)
from homeassistant.const import CONF_API_TOKEN, CONF_URL
from homeassistant.core import callback
from homeassistant.data_entry_flow import UnknownStep
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
import voluptuous as vol

from .account import account_title, async_account_ids
from .api import (
    REALTIME_PATH,
    SunvecInvalidInputError,
    check_address_and_token,
    normalize_token,
    normalize_url,
)
from .checks import (
    InverterChecks,
    InverterList,
    async_check_account,
    async_check_now,
    inverter_subentry,
    wifi_sns_error,
)
from .const import (
    CONF_CALLS_KEPT_FREE,
    CONF_SCAN_INTERVAL,
    CONF_WIFI_SN,
    DOMAIN,
    MAX_SCAN_INTERVAL,
    MIN_SCAN_INTERVAL,
    RATE_LIMIT_MARGIN,
    RATE_LIMIT_PER_DAY,
    RATE_LIMIT_PER_MINUTE,
    SUBENTRY_INVERTER,
)
from .models import SunvecConfigEntry
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
TOKEN_ERROR_KEYS: Final[Mapping[str, str]] = {"token_is_address": "invalid_token_address"}
"""Form error on the token field for a reason other than its characters."""

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


def _checks_made(checks: InverterChecks | None) -> InverterChecks:
    """The checks of the numbers typed: the steps after the form come with them."""
    if checks is None:
        raise UnknownStep("No numbers were typed yet")
    return checks


class SunvecConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a Sunvec Connect account (address and token) with one or several inverters."""

    VERSION = 2
    MINOR_VERSION = 2

    def __init__(self) -> None:
        """Start with nothing typed."""
        self._user_input: dict[str, Any] | None = None
        self._checks: InverterChecks | None = None

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
        except SunvecInvalidInputError as err:
            errors[CONF_API_TOKEN] = TOKEN_ERROR_KEYS.get(err.reason, "invalid_token")
        if not errors:
            try:
                check_address_and_token(data[CONF_URL], data[CONF_API_TOKEN])
            except SunvecInvalidInputError:
                errors[CONF_URL] = "invalid_url_token"
        return data, errors

    async def _async_account(self, data: Mapping[str, str]) -> ConfigEntry | None:
        """The account of this token, at this address or another: one account per token.

        The portal gives a token one API address; the same token at another is the same
        account (and the same calls, as the cloud counts them).
        """
        ids = await async_account_ids(self.hass, data[CONF_URL], data[CONF_API_TOKEN])
        entries = self.hass.config_entries
        if (account := entries.async_entry_for_domain_unique_id(DOMAIN, ids.unique_id)) is not None:
            return account
        return next(
            (
                entry
                for entry in entries.async_entries(DOMAIN)
                if entry.version == self.VERSION
                and entry.data.get(CONF_API_TOKEN) == data[CONF_API_TOKEN]
            ),
            None,
        )

    async def _async_another_account(self, entry: ConfigEntry, data: Mapping[str, str]) -> bool:
        """Whether these settings are another account's: one account per token."""
        account = await self._async_account(data)
        return account is not None and account.entry_id != entry.entry_id

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
            return self._show_user_form(self._checks.take_form_errors() if self._checks else {})
        self._user_input = user_input
        data, errors = self._normalize_connection(user_input)
        if (error := wifi_sns_error(user_input[CONF_WIFI_SN])) is not None:
            errors[CONF_WIFI_SN] = error
        if errors:
            return self._show_user_form(errors)
        inverters = await InverterList.async_parse(
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
        return cast("ConfigFlowResult", _checks_made(self._checks).progress_step())

    async def async_step_inverters_checked(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Add the account with every inverter the cloud accepted, or add them to it."""
        checks = _checks_made(self._checks)
        inverters = checks.inverters
        if user_input is not None:
            # Nothing was added: back to the form, with the refused numbers to correct.
            self._user_input = {**(self._user_input or {}), CONF_WIFI_SN: inverters.refused_typed}
            return self._show_user_form({})
        reasons = await checks.async_settle("config")
        if not inverters.added:
            return self.async_show_form(
                step_id="inverters_checked", description_placeholders=inverters.refusals(reasons)
            )
        summary = inverters.summary(reasons)
        data = {CONF_URL: inverters.url, CONF_API_TOKEN: inverters.token}
        subentries = [inverter_subentry(i.wifi_sn, i.title) for i in inverters.added]
        if (account := await self._async_account(data)) is not None:
            # One account per token: the inverters join it.
            for subentry in subentries:
                self.hass.config_entries.async_add_subentry(account, subentry)
            return self.async_abort(
                reason="added_to_account",
                description_placeholders={**summary, "account": account.title},
            )
        ids = await async_account_ids(self.hass, inverters.url, inverters.token)
        await self.async_set_unique_id(ids.unique_id)
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
            if CONF_URL in errors:
                # The saved address (not on this form, and valid) holds the new token.
                errors = {"base": "invalid_url_token"}
            if not errors and await self._async_another_account(entry, data):
                return self.async_abort(reason="already_configured")
            if not errors:
                if (error := await async_check_account(self.hass, data, entry)) is None:
                    return await self._async_update_account(
                        entry, data, data_updates={CONF_API_TOKEN: data[CONF_API_TOKEN]}
                    )
                errors["base"] = error
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=vol.Schema({vol.Required(CONF_API_TOKEN): TOKEN_SELECTOR}),
            description_placeholders={**FORM_PLACEHOLDERS, "name": entry.title},
            errors=errors,
        )

    async def _async_update_account(
        self, entry: SunvecConfigEntry, data: dict[str, Any], *, data_updates: dict[str, Any]
    ) -> ConfigFlowResult:
        """Save the account's new settings and reload it once: every inverter polls with them.

        A loaded account reloads through its update listener; one whose setup failed (a
        revoked token, saved settings refused) has none and is reloaded here.
        """
        ids = await async_account_ids(self.hass, data[CONF_URL], data[CONF_API_TOKEN])
        # Our own texts (they say what became of the account's inverters).
        reason = "reauth_successful" if self.source == SOURCE_REAUTH else "reconfigure_successful"
        if entry.state is ConfigEntryState.LOADED:
            return self.async_update_and_abort(
                entry, unique_id=ids.unique_id, data_updates=data_updates, reason=reason
            )
        return self.async_update_reload_and_abort(
            entry, unique_id=ids.unique_id, data_updates=data_updates, reason=reason
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the API address and token of an account."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data, errors = self._normalize_connection(user_input)
            if not errors and await self._async_another_account(entry, data):
                return self.async_abort(reason="already_configured")
            if not errors:
                if (error := await async_check_account(self.hass, data, entry)) is None:
                    return await self._async_update_account(entry, data, data_updates=data)
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
        self._checks: InverterChecks | None = None

    def _show_form(self, errors: dict[str, str]) -> SubentryFlowResult:
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(INVERTERS_SCHEMA, self._typed),
            errors=errors,
        )

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Ask for the registration numbers of the inverters to add."""
        if user_input is None:
            return self._show_form(self._checks.take_form_errors() if self._checks else {})
        self._typed = user_input
        errors: dict[str, str] = {}
        if (error := wifi_sns_error(user_input[CONF_WIFI_SN])) is not None:
            errors[CONF_WIFI_SN] = error
            return self._show_form(errors)
        entry = self._get_entry()
        url, token = entry.data[CONF_URL], entry.data[CONF_API_TOKEN]
        inverters = await InverterList.async_parse(self.hass, url, token, user_input[CONF_WIFI_SN])
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
        return cast("SubentryFlowResult", _checks_made(self._checks).progress_step())

    async def async_step_inverters_checked(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Add every inverter the cloud accepted and say what became of each number."""
        checks = _checks_made(self._checks)
        if checks.account_removed:
            return self.async_abort(reason="account_removed")
        inverters = checks.inverters
        if user_input is not None:
            self._typed = {CONF_WIFI_SN: inverters.refused_typed}
            return self._show_form({})
        reasons = await checks.async_settle(f"config_subentries.{SUBENTRY_INVERTER}")
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
        """The calls a day the account's inverters need with `options`, and what it allows.

        At a fixed interval an inverter takes what it asks; under the token's pace each
        needs at least a call an hour (the slowest pace). A fixed interval that the day
        cannot carry would leave every inverter of the token dark for hours.
        """
        interval = options.get(CONF_SCAN_INTERVAL)
        calls = max(1, len(self.config_entry.subentries)) * (
            DAY_SECONDS / interval if interval else MIN_PACED_CALLS
        )
        kept_free = options.get(CONF_CALLS_KEPT_FREE, RATE_LIMIT_MARGIN)
        limit = max(1, RATE_LIMIT_PER_DAY - 10 * kept_free)
        return math.ceil(calls), limit
