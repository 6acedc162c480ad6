"""Crypto and storage tests touch no database: skip the per-test database cleaning."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def clean_database() -> None:
    """Overrides the database-cleaning fixture of tests/conftest.py with nothing."""
