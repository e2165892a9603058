"""Repair issues of an account and its inverters, raised and cleared as what they describe changes.

The issue registry is the only record of whether an issue is shown. Home Assistant
reloads non-persistent issues from storage as inactive (not shown) after a restart,
so raising always writes the issue (which makes it active again) and clearing always
deletes it (a reloaded, inactive leftover included).

(Not named repairs.py: Home Assistant loads that module as a repairs platform, which
must offer fix flows.)
"""

from __future__ import annotations

from datetime import datetime

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util

from .api import (
    SunvecError,
    SunvecInvalidParameterError,
    SunvecNotAuthorizedError,
    SunvecNotFoundError,
)
from .const import DOMAIN


def offline_issue_id(subentry_id: str) -> str:
    """The repair issue raised while an inverter has not uploaded for a day."""
    return f"inverter_offline_{subentry_id}"


def access_issue_id(subentry_id: str) -> str:
    """The repair issue raised while the token may not read an inverter."""
    return f"wifi_sn_unavailable_{subentry_id}"


def ban_issue_id(entry_id: str) -> str:
    """The repair issue raised while the cloud bans an account's token."""
    return f"token_banned_{entry_id}"


def invalid_request_issue_id(subentry_id: str) -> str:
    """The issue raised while the cloud refuses an inverter's requests as invalid (1002)."""
    return f"invalid_request_{subentry_id}"


def clock_issue_id(subentry_id: str) -> str:
    """The repair issue raised while an inverter's clock is off by minutes."""
    return f"plant_clock_off_{subentry_id}"


def insecure_url_issue_id(entry_id: str) -> str:
    """The repair issue raised while an account sends its token over plain http."""
    return f"insecure_url_{entry_id}"


def account_issue_ids(entry_id: str) -> tuple[str, ...]:
    """Every repair issue about an account (its token, its address)."""
    return (ban_issue_id(entry_id), insecure_url_issue_id(entry_id))


def inverter_issue_ids(subentry_id: str) -> tuple[str, ...]:
    """Every repair issue about one inverter of an account."""
    return (
        offline_issue_id(subentry_id),
        access_issue_id(subentry_id),
        invalid_request_issue_id(subentry_id),
        clock_issue_id(subentry_id),
    )


class EntryIssue:
    """One repair issue of an entry."""

    def __init__(self, hass: HomeAssistant, issue_id: str) -> None:
        """Bind the issue id; nothing is shown until `raise_issue`."""
        self.hass = hass
        self.issue_id = issue_id

    @callback
    def raise_issue(
        self, translation_key: str, severity: ir.IssueSeverity, placeholders: dict[str, str]
    ) -> None:
        """Show the issue, or update what it says (a no-op when nothing changed)."""
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            self.issue_id,
            is_fixable=False,
            severity=severity,
            translation_key=translation_key,
            translation_placeholders=placeholders,
        )

    @callback
    def clear(self) -> None:
        """Remove the issue, shown or left over from before a restart."""
        ir.async_delete_issue(self.hass, DOMAIN, self.issue_id)


@callback
def async_update_insecure_url_issue(
    hass: HomeAssistant, entry_id: str, title: str, *, token_exposed: bool
) -> None:
    """Warn while an entry's token travels unencrypted to a host that is not this machine."""
    issue = EntryIssue(hass, insecure_url_issue_id(entry_id))
    if token_exposed:
        issue.raise_issue("insecure_url", ir.IssueSeverity.WARNING, {"name": title})
    else:
        issue.clear()


@callback
def async_delete_issues(hass: HomeAssistant, issue_ids: tuple[str, ...]) -> None:
    """Remove these issues from the issue registry."""
    for issue_id in issue_ids:
        ir.async_delete_issue(hass, DOMAIN, issue_id)


class InverterIssues:
    """The repair issues an inverter's polls raise and clear (its account's ban among them)."""

    def __init__(
        self, hass: HomeAssistant, entry_id: str, subentry_id: str, title: str, wifi_sn: str
    ) -> None:
        """Bind the issues of the inverter `subentry_id` of the account `entry_id`."""
        self.hass = hass
        self._name, self._wifi_sn = title, wifi_sn
        self._subentry_id = subentry_id
        self._ban = EntryIssue(hass, ban_issue_id(entry_id))
        self._access = EntryIssue(hass, access_issue_id(subentry_id))
        self._offline = EntryIssue(hass, offline_issue_id(subentry_id))
        self._invalid_request = EntryIssue(hass, invalid_request_issue_id(subentry_id))

    @callback
    def forget(self) -> None:
        """Remove every issue about the inverter (it was removed); the account's stay."""
        async_delete_issues(self.hass, inverter_issue_ids(self._subentry_id))

    @callback
    def call_worked(self) -> None:
        """A call went through: the token is not banned, the inverter readable and valid."""
        self._ban.clear()
        self._access.clear()
        self._invalid_request.clear()

    @callback
    def banned(self, account_title: str, until: datetime) -> None:
        """The cloud bans the account's token until `until`."""
        # A ban may last up to a day: the time alone would not say which day.
        local = dt_util.as_local(until).strftime("%Y-%m-%d %H:%M")
        self._ban.raise_issue(
            "token_banned", ir.IssueSeverity.WARNING, {"name": account_title, "until": local}
        )

    @callback
    def call_failed(self, err: SunvecError) -> None:
        """Say what a failed call means, if it is about the inverter (not the token).

        The token may not read the inverter (1003), the cloud lost it (2002), or it
        refuses the inverter's requests as invalid (1002).
        """
        placeholders = {"name": self._name, "wifi_sn": self._wifi_sn}
        if isinstance(err, SunvecNotAuthorizedError | SunvecNotFoundError):
            lost = isinstance(err, SunvecNotFoundError)
            key = "wifi_sn_not_found" if lost else "wifi_sn_not_authorized"
            self._access.raise_issue(key, ir.IssueSeverity.ERROR, placeholders)
        elif isinstance(err, SunvecInvalidParameterError):
            issue = self._invalid_request
            issue.raise_issue("invalid_request", ir.IssueSeverity.ERROR, placeholders)

    @callback
    def offline(self, *, is_offline: bool) -> None:
        """Raise or clear the issue of an inverter that has not uploaded for a day."""
        if is_offline:
            self._offline.raise_issue(
                "inverter_offline", ir.IssueSeverity.WARNING, {"name": self._name}
            )
        else:
            self._offline.clear()

    @callback
    def clock_off(self, offset: str | None) -> None:
        """Raise or clear the issue of a plant clock off by minutes (`offset`, e.g. "+1:07")."""
        # Made when needed: an inverter keeps no more objects for a rare issue.
        issue = EntryIssue(self.hass, clock_issue_id(self._subentry_id))
        if offset is not None:
            issue.raise_issue(
                "plant_clock_off",
                ir.IssueSeverity.WARNING,
                {"name": self._name, "offset": offset},
            )
        else:
            issue.clear()
