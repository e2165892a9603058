"""The polling model's figures: a day's blocks add up to the day."""

from __future__ import annotations

import statistics

import pytest

# The model takes the bench's scenario, whose module draws its plots with matplotlib (the
# development requirements; the minimum version lane goes without).
pytest.importorskip("matplotlib")

from benchmarks.polling_model import pooled_blocks, run


@pytest.mark.parametrize("steady", [True, False])
def test_the_blocks_of_a_day_add_up_to_the_day(steady: bool) -> None:
    """Calls, uploads and staleness by two hours are the day's, cut from its first upload."""
    (days,) = run(range(11, 12), steady=steady, days=1)
    (day,) = days
    uploads = sum(block.uploads for block in day.blocks)
    calls = sum(block.calls for block in day.blocks)
    staleness = [late for block in day.blocks for late in block.staleness]

    assert len(day.blocks) == 7  # 06:15 to 20:15 in Amsterdam in June: 14 hours
    assert uploads == len(day.delays)
    assert calls / uploads == pytest.approx(day.calls_per_upload)
    assert statistics.fmean(staleness) == pytest.approx(day.staleness)
    assert len(staleness) == uploads - day.never_shown
    assert pooled_blocks([day, day]) == [
        (block.calls / block.uploads, statistics.fmean(block.staleness)) for block in day.blocks
    ]
