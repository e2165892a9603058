"""Constants for the Sunvec Connect integration."""

from datetime import timedelta
import logging
from typing import Final

DOMAIN: Final = "sunvec_connect"
LOGGER = logging.getLogger(__package__)
MANUFACTURER: Final = "Sunvec"

CONF_WIFI_SN: Final = "wifi_sn"
CONF_SCAN_INTERVAL: Final = "scan_interval"

DEFAULT_SCAN_INTERVAL: Final = timedelta(seconds=60)
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

FAULT_STATUSES: Final = frozenset({"103", "104"})
BATTERY_FAULT_STATUS: Final = "1"
