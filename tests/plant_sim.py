"""A plant uploading in its own zone, polled by a plant clock: what the clock tests replay.

Pure: no Home Assistant. The plant uploads every cadence (its local time as uploadTime,
an inverter clock that may be off by minutes), each upload becomes available after a
publish delay; polls follow one of the schemes the integration uses.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import json
import random
from zoneinfo import ZoneInfo

from custom_components.sunvec_connect.plant_clock import Placement, PlantClock

STAMP = "%Y-%m-%d %H:%M:%S"
GUARD = timedelta(seconds=3)
SLEEP_POLL = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Scenario:
    """One history: a plant, Home Assistant's zone, the polls, what goes wrong."""

    plant_zone: str
    ha_zone: str
    start: datetime
    hours: float = 24.0
    cadence: float = 300.0
    phase: float = 0.0
    delays: tuple[float, float] = (5.0, 120.0)
    scheme: str = "every"
    """every: each upload; skip2/skip3: every 2nd/3rd; fixed: every `interval` seconds."""
    interval: float = 1800.0
    early_polls: float = 0.0
    """Share of aligned polls that come before the upload is available (a retry)."""
    outage: tuple[float, float] | None = None
    """Hours from the start and length: no polls (Home Assistant or the internet down)."""
    sleep: tuple[float, float] | None = None
    """Hours from the start and length: the inverter does not upload."""
    restarts: tuple[float, ...] = ()
    """Hours from the start: the clock is saved and restored (Home Assistant restarts)."""
    skew: timedelta = timedelta(0)
    """How far the inverter's clock is ahead of its zone."""
    hint: str = "none"
    """utcDateTime: none, true, or china (uploadTime - 8 h, as v1 answers)."""
    seed: int = 0


@dataclass(slots=True)
class Upload:
    """One upload: when it was made and available, and what the cloud says."""

    time: datetime
    available: datetime
    text: str
    offset: timedelta
    """The plant zone's offset at `time` (without the clock's skew)."""


@dataclass(slots=True)
class Seen:
    """One poll: what it found and where the clock placed it."""

    now: datetime
    upload: Upload
    new: bool
    placement: Placement
    clock_off: bool
    measured: str | None


@dataclass(slots=True)
class Replay:
    """A scenario replayed."""

    scenario: Scenario
    uploads: list[Upload] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)


def _in(hours: tuple[float, float] | None, start: datetime, moment: datetime) -> bool:
    if hours is None:
        return False
    begin = start + timedelta(hours=hours[0])
    return begin <= moment < begin + timedelta(hours=hours[1])


def make_uploads(scenario: Scenario) -> list[Upload]:
    """The plant's uploads over the scenario (none while it sleeps)."""
    rng = random.Random(f"{scenario.seed}:delays")
    zone = ZoneInfo(scenario.plant_zone)
    uploads = []
    moment = scenario.start + timedelta(seconds=round(scenario.phase))
    end = scenario.start + timedelta(hours=scenario.hours)
    while moment < end:
        if not _in(scenario.sleep, scenario.start, moment):
            offset = moment.astimezone(zone).utcoffset() or timedelta(0)
            local = moment + offset + scenario.skew
            uploads.append(
                Upload(
                    time=moment,
                    available=moment + timedelta(seconds=rng.uniform(*scenario.delays)),
                    text=local.strftime(STAMP),
                    offset=offset,
                )
            )
        moment += timedelta(seconds=scenario.cadence)
    return uploads


def make_polls(scenario: Scenario, uploads: list[Upload]) -> list[datetime]:
    """When the integration polls, by the scenario's scheme."""
    rng = random.Random(f"{scenario.seed}:polls")
    start, end = scenario.start, scenario.start + timedelta(hours=scenario.hours + 0.5)
    polls: list[datetime] = []
    if scenario.scheme == "fixed":
        moment = start + timedelta(seconds=rng.uniform(0, scenario.interval))
        while moment < end:
            polls.append(moment)
            moment += timedelta(seconds=scenario.interval)
    else:
        step = {"every": 1, "skip2": 2, "skip3": 3}[scenario.scheme]
        for upload in uploads[::step]:
            if rng.random() < scenario.early_polls:
                polls.append(upload.available - timedelta(seconds=rng.uniform(1, 30)))
            polls.append(upload.available + GUARD)
        # While the inverter sleeps the integration polls at the night interval.
        moment = start
        while moment < end:
            if _in(scenario.sleep, start, moment):
                polls.append(moment)
            moment += SLEEP_POLL
        polls.sort()
    return [poll for poll in polls if not _in(scenario.outage, start, poll)]


def replay(scenario: Scenario) -> Replay:
    """Poll the plant and let a plant clock place what each poll finds."""
    result = Replay(scenario, make_uploads(scenario))
    uploads = result.uploads
    availability = sorted(upload.available for upload in uploads)
    by_availability = sorted(uploads, key=lambda upload: upload.available)
    ha_zone = ZoneInfo(scenario.ha_zone)
    clock = PlantClock()
    restarts = sorted(scenario.start + timedelta(hours=hours) for hours in scenario.restarts)
    last_text: str | None = None
    for now in make_polls(scenario, uploads):
        while restarts and restarts[0] <= now:
            restarts.pop(0)
            clock = PlantClock.restore(json.loads(json.dumps(clock.as_dict())), now)
        index = bisect_right(availability, now)
        if index == 0:
            continue
        # The newest upload available (the cloud answers with the latest).
        upload = max(by_availability[:index], key=lambda item: item.time)
        local = datetime.strptime(upload.text, STAMP)
        placement = clock.place(
            local,
            upload.text,
            now,
            zone=ha_zone,
            cadence=timedelta(seconds=300.0),
            utc_hint=_hint(scenario, upload, local),
        )
        result.seen.append(
            Seen(
                now,
                upload,
                upload.text != last_text,
                placement,
                clock.clock_off,
                clock.measured_offset,
            )
        )
        last_text = upload.text
    return result


def _hint(scenario: Scenario, upload: Upload, local: datetime) -> datetime | None:
    if scenario.hint == "true":
        return upload.time + timedelta(milliseconds=399)
    if scenario.hint == "china":
        return (local - timedelta(hours=8)).replace(tzinfo=UTC) + timedelta(milliseconds=936)
    return None
