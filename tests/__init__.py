"""Tests for the Sunvec Connect integration, its client and its simulator."""
