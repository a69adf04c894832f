from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient

from auren.api.config import Settings
from auren.api.dashboard_api_minimal import create_app
from auren.api.store import SampleStore

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def settings():
    return Settings(max_samples_per_user=100, seed_file=None, default_window_minutes=60)


@pytest.fixture
def store(settings):
    return SampleStore(settings.max_samples_per_user)


@pytest.fixture
def client(settings, store):
    return TestClient(create_app(settings=settings, store=store, clock=lambda: NOW))
