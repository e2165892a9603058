"""Tests for the counter rules that keep the energy dashboard right."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from custom_components.sunvec_connect.energy import (
    DailyCounter,
    LifetimeCounter,
    PowerIntegrator,
)

T0 = datetime(2026, 6, 21, 10, 0, tzinfo=UTC)


def test_lifetime_counter_rejects_glitches() -> None:
    counter = LifetimeCounter()
    assert counter.offer(None, T0) is None
    assert counter.rejected == 0
    assert counter.offer(0.0, T0) is None
    assert counter.rejected == 1
    assert counter.offer(100.0, T0) == 100.0
    for glitch in (0.0, None, 99.9, -5.0):
        assert counter.offer(glitch, T0) == 100.0
    assert counter.rejected == 5
    assert counter.offer(100.1, T0) == 100.1
    restored = LifetimeCounter()
    restored.restore(counter.as_dict())
    assert restored.offer(50.0, T0) == 100.1
    for junk in ({}, {"value": "x"}, {"value": True}, {"value": -1}):
        fresh = LifetimeCounter()
        fresh.restore(junk)
        assert fresh.value is None


def test_daily_counter_falls_only_on_a_new_day() -> None:
    counter = DailyCounter(zone=UTC)
    assert counter.offer(None, T0) is None
    assert counter.rejected == 0
    assert counter.offer(5.0, T0) == 5.0
    assert counter.offer(4.0, T0 + timedelta(minutes=5)) == 5.0
    assert counter.offer(None, T0) == 5.0
    assert counter.offer(6.0, None) == 5.0
    assert counter.offer(-1.0, T0) == 5.0
    assert counter.rejected == 4
    assert counter.offer(0.1, T0 + timedelta(days=1)) == 0.1
    assert counter.offer(9.0, T0) == 0.1  # an upload from the day before
    restored = DailyCounter(zone=UTC)
    restored.restore(counter.as_dict())
    assert (restored.value, restored.day) == (0.1, (T0 + timedelta(days=1)).date())
    for junk in ({}, {"value": 1.0, "day": 5}, {"value": 1.0, "day": "yesterday"}):
        fresh = DailyCounter(zone=UTC)
        fresh.restore(junk)
        assert fresh.value is None


def test_power_integrator() -> None:
    integrator = PowerIntegrator(max_gap=timedelta(minutes=15))
    assert integrator.offer(1000.0, None) == 0
    assert integrator.offer(1000.0, T0) == 0
    assert integrator.offer(3000.0, T0 + timedelta(minutes=30)) == 0  # gap: not bridged
    assert integrator.offer(3000.0, T0 + timedelta(minutes=35)) == 0.25
    assert integrator.offer(9999.0, T0 + timedelta(minutes=35)) == 0.25  # same upload again
    assert integrator.offer(None, T0 + timedelta(minutes=40)) == 0.25  # no power: restart
    assert integrator.offer(1000.0, T0 + timedelta(minutes=45)) == 0.25
    assert integrator.offer(1000.0, T0 + timedelta(minutes=51)) == 0.35
    restored = PowerIntegrator(max_gap=timedelta(minutes=15))
    restored.restore(integrator.as_dict())
    assert restored.offer(1000.0, T0 + timedelta(minutes=57)) == 0.45
    for junk in (
        {},
        {"total": -1},
        {"total": 1.0, "last_time": "not a time", "last_power": 5},
    ):
        fresh = PowerIntegrator(max_gap=timedelta(minutes=15))
        fresh.restore(junk)
        assert fresh.last_time is None
