"""Home Assistant's log file read as entries, for the end-to-end suite.

Pure functions, so that tests/test_e2e_log.py can check them on every timestamp form:
Home Assistant 2026.10 starts a line with `2026-10-25 15:21:04.400 DEBUG ...`, 2026.11
adds the UTC offset (`2026-11-25 15:21:04.400+00:00 DEBUG ...`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
import re

ENTRY_START = re.compile(
    r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?"
    r" (?P<level>[A-Z]+) (?:\([^)]*\) )?\[(?P<logger>[^\]]+)\] ",
    re.MULTILINE,
)
"""The first line of an entry: time, level, (thread), [logger]."""
PROBLEM_TEXTS = ("Traceback", "Error setting up", "Setup failed", "Attempting install of")
"""Texts of problem entries; the last is a requirement the suite's environment lacks,
which Home Assistant would download at run time."""
EXCERPT = 3000


@dataclass(frozen=True)
class LogEntry:
    """One log record: its first line and the lines that continue it (a traceback)."""

    level: str
    logger: str
    text: str


def log_entries(text: str) -> list[LogEntry]:
    """The entries of a log, in order; text before the first entry is one with no level."""
    starts = list(ENTRY_START.finditer(text))
    entries = []
    if (head := text[: starts[0].start() if starts else len(text)]).strip():
        entries.append(LogEntry("", "", head))
    for match, end in zip(starts, [*(s.start() for s in starts[1:]), len(text)], strict=True):
        entries.append(LogEntry(match["level"], match["logger"], text[match.start() : end]))
    return entries


def log_problems(text: str, secret: str, ignored: Iterable[str] = ()) -> list[str]:
    """Lines that contain `secret`, and excerpts of the entries that show a problem.

    A problem is a traceback, a failed setup, a requirement installed at run time, or an
    error that names sunvec_connect; entries containing one of the `ignored` texts are
    left out.
    """
    problems = [line for line in text.splitlines() if secret in line]
    ignored = tuple(ignored)
    for entry in log_entries(text):
        if any(gap in entry.text for gap in ignored):
            continue
        if any(problem in entry.text for problem in PROBLEM_TEXTS) or (
            entry.level == "ERROR" and "sunvec_connect" in entry.text
        ):
            problems.append(entry.text[:EXCERPT])
    return problems
