"""Constants for the Sunvec Connect integration."""

from datetime import timedelta
import logging
from typing import Final

DOMAIN: Final = "sunvec_connect"
LOGGER = logging.getLogger(__package__)
MANUFACTURER: Final = "Sunvec"

CONF_WIFI_SN: Final = "wifi_sn"
SUBENTRY_INVERTER: Final = "inverter"
"""The type of an account's subentries: one inverter each."""
CONF_SCAN_INTERVAL: Final = "scan_interval"
CONF_CALLS_KEPT_FREE: Final = "calls_kept_free"
"""Option: calls per minute of the token kept free for other apps (0-8, default 1)."""

MIN_SCAN_INTERVAL: Final = timedelta(seconds=60)
MAX_SCAN_INTERVAL: Final = timedelta(hours=1)

UPLOAD_INTERVAL: Final = timedelta(minutes=5)
"""How often an inverter uploads to the cloud."""
STALE_AFTER: Final = 3 * UPLOAD_INTERVAL
"""An upload older than this no longer describes the inverter's present state."""
OFFLINE_ISSUE_AFTER: Final = timedelta(hours=24)
"""No new upload for this long raises a repair issue."""
MAX_INTEGRATION_GAP: Final = timedelta(minutes=15)
"""Integrated energies always bridge a gap between uploads up to this long; longer ones
up to the time the entry expects between the uploads it fetches, and one cadence."""
FUTURE_TOLERANCE: Final = timedelta(minutes=5)
"""An upload time further ahead of the clock than this is not believed."""

ERROR_RETRY_INTERVAL: Final = timedelta(seconds=60)
"""After a failed call (other than a rate limit), try again this much later..."""
MAX_ERROR_RETRY_INTERVAL: Final = timedelta(minutes=15)
"""...doubling with each failure in a row up to this."""
INVALID_REQUEST_RETRY_INTERVAL: Final = timedelta(hours=1)
"""After the cloud refused the request as invalid (1002): nothing changes by itself."""
ACCESS_RETRY_INTERVAL: Final = timedelta(minutes=15)
"""After 1003 or 2002 (the account lost the inverter), check again this much later."""
MIN_POLL_WAIT: Final = timedelta(seconds=5)
SLOT_TOLERANCE: Final = timedelta(seconds=1)
"""A reserved call slot this close counts as now."""
FIRST_CALL_HOLD: Final = timedelta(seconds=90)
"""After a restart, an upload kept from before whose successor is due this soon is
confirmed by the call that fetches the successor; otherwise the first call goes at
the entry's first slot."""
STORE_SAVE_DELAY: Final = 600.0
"""Seconds: an entry's last upload is written at most this often (and at shutdown)."""
DEMAND_REFRESH: Final = timedelta(hours=1)
"""How often an entry tells its token's budget what its inverter needs, at least."""
DAYLIGHT_MARGIN: Final = timedelta(hours=2)
"""Added to the day's daylight for the online fraction assumed before a day was seen."""
FIRST_WATCH: Final = timedelta(hours=2)
"""Until a wake was seen, the sleeping inverter is watched this long after sunrise."""
NIGHT_UPLOAD_MARGIN: Final = timedelta(hours=1)
"""An upload this long after sunset or before sunrise is of an inverter awake all day."""
BAN_ISSUE_AFTER: Final = 600.0
"""A rate-limit pause at least this long (seconds) raises a repair issue."""
RATE_LIMIT_PER_MINUTE: Final = 10
RATE_LIMIT_PER_DAY: Final = 10_000
RATE_LIMIT_MARGIN: Final = 1
"""Calls per minute (and ten times as many per day) kept in reserve under the limits."""

FAULT_STATUSES: Final = frozenset({"103", "104"})
BATTERY_FAULT_STATUS: Final = "1"
