"""Constants for the Sunvec Connect integration."""

from datetime import timedelta
import logging
from typing import Final

DOMAIN: Final = "sunvec_connect"
LOGGER = logging.getLogger(__package__)
MANUFACTURER: Final = "Sunvec"

CONF_WIFI_SN: Final = "wifi_sn"
CONF_SCAN_INTERVAL: Final = "scan_interval"

MIN_SCAN_INTERVAL: Final = timedelta(seconds=60)
MAX_SCAN_INTERVAL: Final = timedelta(hours=1)

UPLOAD_INTERVAL: Final = timedelta(minutes=5)
"""How often an inverter uploads to the cloud."""
STALE_AFTER: Final = 3 * UPLOAD_INTERVAL
"""An upload older than this no longer describes the inverter's present state."""
OFFLINE_ISSUE_AFTER: Final = timedelta(hours=24)
"""No new upload for this long raises a repair issue."""
MAX_INTEGRATION_GAP: Final = timedelta(minutes=15)
"""Energy is never integrated across a gap between uploads longer than this."""
FUTURE_TOLERANCE: Final = timedelta(minutes=5)
"""An upload time further ahead of the clock than this is not believed."""

ERROR_RETRY_INTERVAL: Final = timedelta(seconds=60)
"""After a failed call (other than a rate limit), try again this much later."""
ACCESS_RETRY_INTERVAL: Final = timedelta(minutes=15)
"""After 1003 or 2002 (the account lost the inverter), check again this much later."""
MIN_POLL_WAIT: Final = timedelta(seconds=5)
SLOT_TOLERANCE: Final = timedelta(seconds=1)
"""A reserved call slot this close counts as now."""
FIRST_CALL_MAX_WAIT: Final = timedelta(minutes=5)
"""Setting up, an entry waits this long at most for its token's next call slot."""
BAN_ISSUE_AFTER: Final = 600.0
"""A rate-limit pause at least this long (seconds) raises a repair issue."""
RATE_LIMIT_PER_MINUTE: Final = 10
RATE_LIMIT_PER_DAY: Final = 10_000
RATE_LIMIT_MARGIN: Final = 1
"""Calls per minute (and ten times as many per day) kept in reserve under the limits."""

FAULT_STATUSES: Final = frozenset({"103", "104"})
BATTERY_FAULT_STATUS: Final = "1"
