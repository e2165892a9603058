"""Config flow for Sunvec Connect."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, override

from homeassistant.config_entries import (
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlowWithReload,
)
from homeassistant.const import CONF_API_TOKEN, CONF_URL
from homeassistant.core import callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
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
    CONF_SCAN_INTERVAL,
    CONF_WIFI_SN,
    DOMAIN,
    LOGGER,
    MAX_SCAN_INTERVAL,
    MIN_SCAN_INTERVAL,
)
from .coordinator import SunvecConfigEntry

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


CONNECTION_SCHEMA: Final = vol.Schema(
    {
        vol.Required(CONF_URL): URL_SELECTOR,
        vol.Required(CONF_API_TOKEN): TOKEN_SELECTOR,
        vol.Required(CONF_WIFI_SN): WIFI_SN_SELECTOR,
    }
)


def _error_key(err: SunvecError) -> str:
    """The form error for a client error."""
    for error_type, key in ERROR_KEYS:
        if isinstance(err, error_type):
            return key
    return "unknown"


class SunvecConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up a Sunvec Connect inverter."""

    VERSION = 1
    MINOR_VERSION = 1

    @staticmethod
    @callback
    @override
    def async_get_options_flow(config_entry: SunvecConfigEntry) -> SunvecOptionsFlow:
        """Options of an entry."""
        return SunvecOptionsFlow()

    async def _async_validate(
        self, url: str, token: str, wifi_sn: str
    ) -> tuple[dict[str, str], dict[str, str], RealtimeData | None]:
        """Check the settings with one call; return (data, errors, first upload)."""
        data: dict[str, str] = {}
        errors: dict[str, str] = {}
        for key, value, normalize, error in (
            (CONF_URL, url, normalize_url, "invalid_url"),
            (CONF_API_TOKEN, token, normalize_token, "invalid_token"),
            (CONF_WIFI_SN, wifi_sn, normalize_wifi_sn, "invalid_wifi_sn"),
        ):
            try:
                data[key] = normalize(value)
            except SunvecInvalidInputError as err:
                errors[key] = URL_ERROR_KEYS.get(err.reason, error) if key == CONF_URL else error
        if errors:
            return data, errors, None
        # The check is a call like any other: it takes a slot of the token's shared
        # budget, so that adding a second inverter cannot push the token over the limit.
        budget = token_budget(self.hass, data[CONF_API_TOKEN])
        now = dt_util.utcnow()
        if not budget.try_call_now(now):
            errors["base"] = "rate_limited" if budget.is_paused(now) else "token_busy"
            return data, errors, None
        client = SunvecClient(
            async_get_clientsession(self.hass),
            data[CONF_URL],
            data[CONF_API_TOKEN],
            data[CONF_WIFI_SN],
        )
        try:
            realtime = await client.async_get_realtime_data()
        except SunvecError as err:
            if isinstance(err, SunvecRateLimitError):
                # The entries on this token must not call into the same pause.
                budget.pause(dt_util.utcnow(), err.retry_after)
            errors["base"] = _error_key(err)
            LOGGER.debug("Validating the settings failed: %s", err)
            return data, errors, None
        except Exception:  # noqa: BLE001 - the form must show "unknown", never crash
            LOGGER.exception("Unexpected error while validating the Sunvec Connect settings")
            errors["base"] = "unknown"
            return data, errors, None
        return data, errors, realtime

    @override
    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the API address, the token and the inverter's wifiSn."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data, errors, realtime = await self._async_validate(
                user_input[CONF_URL], user_input[CONF_API_TOKEN], user_input[CONF_WIFI_SN]
            )
            if realtime is not None:
                await self.async_set_unique_id(data[CONF_WIFI_SN])
                self._abort_if_unique_id_configured()
                return self.async_create_entry(
                    title=f"Sunvec {realtime.inverter_sn or data[CONF_WIFI_SN]}", data=data
                )
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(CONNECTION_SCHEMA, user_input),
            description_placeholders=FORM_PLACEHOLDERS,
            errors=errors,
        )

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


class SunvecOptionsFlow(OptionsFlowWithReload):
    """Options of a Sunvec Connect entry."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Choose how often the cloud is polled."""
        if user_input is not None:
            if (seconds := user_input.get(CONF_SCAN_INTERVAL)) is None:
                return self.async_create_entry(data={})
            return self.async_create_entry(data={CONF_SCAN_INTERVAL: int(seconds)})
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
            }
        )
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(schema, self.config_entry.options),
        )
