"""The end-to-end suite reads Home Assistant's log the same with and without UTC offsets."""

from __future__ import annotations

import pytest

from tests_e2e.logs import LogEntry, log_entries, log_problems

TOKEN = "e2e-token-3c5b7a9d"
STAMPS = {
    "2026.10 (no offset)": "2026-10-25 15:21:04.400",
    "2026.11 (UTC)": "2026-11-25 15:21:04.400+00:00",
    "2026.11 (west of UTC)": "2026-11-25 10:21:04.400-05:00",
}
GAP = "[haffmpeg.core] FFmpeg fails"


def log(stamp: str) -> str:
    """A log with a traceback whose continuation lines start like a year would."""
    return (
        f"{stamp} INFO (MainThread) [homeassistant.setup] Setting up sunvec_connect\n"
        f"{stamp} ERROR (MainThread) [homeassistant.components.sensor] Error adding entity\n"
        "Traceback (most recent call last):\n"
        "2026 is in the message, not a new entry\n"
        "ValueError: boom\n"
        f"{stamp} DEBUG (MainThread) [custom_components.sunvec_connect] polled in 0.2 s\n"
        f"{stamp} ERROR (SyncWorker_0) {GAP} to start\n"
        "Traceback (most recent call last):\n"
        "FileNotFoundError: ffmpeg\n"
    )


@pytest.mark.parametrize("stamp", STAMPS.values(), ids=STAMPS.keys())
def test_entries_split_at_each_record_in_both_forms(stamp: str) -> None:
    entries = log_entries(log(stamp))
    assert [(entry.level, entry.logger) for entry in entries] == [
        ("INFO", "homeassistant.setup"),
        ("ERROR", "homeassistant.components.sensor"),
        ("DEBUG", "custom_components.sunvec_connect"),
        ("ERROR", "haffmpeg.core"),
    ]
    assert entries[1].text.endswith("2026 is in the message, not a new entry\nValueError: boom\n")


@pytest.mark.parametrize("stamp", STAMPS.values(), ids=STAMPS.keys())
def test_problems_are_found_in_both_forms(stamp: str) -> None:
    text = log(stamp) + (
        f"{stamp} ERROR (MainThread) [custom_components.sunvec_connect] cloud down\n"
        f"{stamp} WARNING (MainThread) [homeassistant.config_entries] Error setting up entry X\n"
        f"{stamp} DEBUG (MainThread) [custom_components.sunvec_connect] header {TOKEN}\n"
        f"{stamp} INFO (SyncWorker_2) [homeassistant.util.package] Attempting install of x==1\n"
    )
    problems = log_problems(text, TOKEN, [GAP])
    assert problems == [
        f"{stamp} DEBUG (MainThread) [custom_components.sunvec_connect] header {TOKEN}",
        log_entries(text)[1].text,
        f"{stamp} ERROR (MainThread) [custom_components.sunvec_connect] cloud down\n",
        f"{stamp} WARNING (MainThread) [homeassistant.config_entries] Error setting up entry X\n",
        f"{stamp} INFO (SyncWorker_2) [homeassistant.util.package] Attempting install of x==1\n",
    ]


def test_a_clean_log_has_no_problems() -> None:
    stamp = STAMPS["2026.11 (UTC)"]
    text = (
        f"{stamp} INFO (MainThread) [homeassistant.setup] Setting up sunvec_connect\n"
        f"{stamp} WARNING (MainThread) [homeassistant.loader] We found a custom integration\n"
    )
    assert log_problems(text, TOKEN) == []


def test_text_before_the_first_record_is_kept() -> None:
    text = "started\n2026-11-25 15:21:04.400+00:00 INFO (MainThread) [x] up\n"
    assert log_entries(text) == [
        LogEntry("", "", "started\n"),
        LogEntry("INFO", "x", "2026-11-25 15:21:04.400+00:00 INFO (MainThread) [x] up\n"),
    ]
