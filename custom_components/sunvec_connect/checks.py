"""Checking registration numbers against the cloud for the flows, within the token's budget."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import math
import re
from types import MappingProxyType
from typing import Any, Final, NamedTuple, cast

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigSubentry,
)
from homeassistant.const import CONF_API_TOKEN, CONF_URL
from homeassistant.core import HomeAssistant, callback
from homeassistant.data_entry_flow import FlowHandler
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.helpers.translation import async_get_translations
from homeassistant.util import dt as dt_util

from .account import async_account_ids
from .api import (
    RealtimeData,
    SunvecClient,
    SunvecError,
    SunvecInvalidInputError,
    SunvecRateLimitError,
    normalize_wifi_sn,
)
from .budget import TokenBudget, TokenCalls
from .const import (
    CONF_WIFI_SN,
    DOMAIN,
    LOGGER,
    SUBENTRY_INVERTER,
)
from .errors import form_error_key
from .models import SunvecConfigEntry

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


async def async_token_calls(hass: HomeAssistant, url: str, token: str) -> TokenCalls:
    """The calls of a token: a running account's of it (at any address), else those kept."""
    key = (await async_account_ids(hass, url, token)).calls_key
    for account in hass.config_entries.async_loaded_entries(DOMAIN):
        if (running := cast("SunvecConfigEntry", account).runtime_data.calls).key == key:
            return running
    calls = TokenCalls(hass, key)
    await calls.async_load()
    return calls


async def async_fetch_upload(
    hass: HomeAssistant, inverters: InverterList, wifi_sn: str
) -> RealtimeData | Exception:
    """Call the cloud once (its budget slot taken): the upload, or the error (logged)."""
    client = SunvecClient(async_get_clientsession(hass), inverters.url, inverters.token)
    try:
        return await client.async_get_realtime_data(wifi_sn)
    except SunvecError as err:
        if isinstance(err, SunvecRateLimitError):
            # The inverters on this token must not call into the same pause.
            inverters.budget.pause(dt_util.utcnow(), err.retry_after)
        LOGGER.debug("Checking the settings failed: %s", err)
        return err
    except Exception as err:  # noqa: BLE001 - the form must show "unknown", never crash
        LOGGER.exception("Unexpected error while checking the Sunvec Connect settings")
        return err
    finally:
        # Written at once: the account set up next, or another form, counts this call.
        await inverters.calls.async_save()


async def async_check_now(hass: HomeAssistant, inverters: InverterList, wifi_sn: str) -> str | None:
    """Check one inverter with a call in the token's current minute; the form error if any.

    An inverter the cloud knows is added to `inverters.checked`.
    """
    # The check is a call like any other: it takes a slot of the token's budget, so
    # that adding an inverter cannot push the token over the limit.
    budget = inverters.budget
    now = dt_util.utcnow()
    if not budget.try_call_now(now):
        return "rate_limited" if budget.is_paused(now) else "token_busy"
    realtime = await async_fetch_upload(hass, inverters, wifi_sn)
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
    url, token = data[CONF_URL], data[CONF_API_TOKEN]
    calls = await async_token_calls(hass, url, token)
    inverters = InverterList(url=url, token=token, calls=calls, to_check=[])
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
    calls: TokenCalls = field(repr=False)
    """The token's budget the checks take their calls from."""
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

    @property
    def budget(self) -> TokenBudget:
        """The token's call budget."""
        return self.calls.budget

    @classmethod
    async def async_parse(
        cls, hass: HomeAssistant, url: str, token: str, typed: str
    ) -> InverterList:
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
            calls=await async_token_calls(hass, url, token),
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

    @property
    def refused_typed(self) -> str:
        """The refused numbers as typed, a line each: the form shown again to correct them."""
        return "\n".join(typed for typed, _ in self.refused)

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
        per_minute = self.inverters.budget.window_limit
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
        realtime = await async_fetch_upload(self.hass, inverters, wifi_sn)
        if isinstance(realtime, Exception):
            return form_error_key(realtime)
        inverters.checked.append(CheckedInverter(wifi_sn, _inverter_title(realtime, wifi_sn)))
        return None

    async def _async_wait_for_call_slot(self) -> str | None:
        """Take the token's next call slot and wait for it; else the form error why not."""
        budget = self.inverters.budget
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

    async def async_settle(self, section: str) -> dict[str, str]:
        """Take the checked inverters not configured meanwhile (`inverters.added`).

        Returns the form's error texts by key: what the result says of refused numbers.
        """
        inverters = self.inverters
        configured = configured_wifi_sns(self.hass)
        inverters.added = [i for i in inverters.checked if i.wifi_sn not in configured]
        return await self.async_reasons(section)

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
