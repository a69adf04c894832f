import json
from datetime import timedelta

import pytest

from auren.api.config import ConfigError, Settings, load_settings
from auren.api.dashboard_api_minimal import create_app
from conftest import NOW


def iso(minutes_ago):
    return (NOW - timedelta(minutes=minutes_ago)).isoformat()


def post(client, *samples):
    return client.post("/api/biometrics/samples", json={"samples": list(samples)})


def sample(metric="heart_rate", value=62, minutes_ago=1, user="athlete-1", **extra):
    return {"user_id": user, "metric": metric, "value": value, "recorded_at": iso(minutes_ago), **extra}


def test_health(client):
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"
    assert r.json()["service"] == "auren-api"


def test_summary_aggregates_the_window(client):
    r = post(
        client,
        sample(value=60, minutes_ago=50),
        sample(value=70, minutes_ago=20),
        sample(value=65, minutes_ago=5),
        sample(value=140, minutes_ago=120),  # outside the 60-minute window
        sample(metric="hrv", value=48, minutes_ago=10, unit="ms"),
        sample(metric="skin_temperature", value=38.1, minutes_ago=3),
        sample(value=99, user="someone-else"),
    )
    assert r.status_code == 202 and r.json() == {"accepted": 7}

    body = client.get("/api/dashboard/summary", params={"user_id": "athlete-1"}).json()
    assert body["sample_count"] == 5
    assert body["window"]["minutes"] == 60
    hr = body["metrics"]["heart_rate"]
    assert (hr["count"], hr["mean"], hr["min"], hr["max"], hr["latest"]) == (3, 65.0, 60, 70, 65)
    assert hr["unit"] == "bpm" and hr["status"] == "normal"
    assert body["metrics"]["hrv"]["count"] == 1
    assert [a["metric"] for a in body["alerts"]] == ["skin_temperature"]
    assert body["alerts"][0]["status"] == "high"


def test_wider_window_and_path_form(client):
    post(client, sample(value=60, minutes_ago=50), sample(value=140, minutes_ago=120))
    body = client.get("/api/dashboard/athlete-1/summary", params={"window_minutes": 180}).json()
    assert body["metrics"]["heart_rate"]["count"] == 2
    assert body["metrics"]["heart_rate"]["max"] == 140


def test_unknown_user_is_404(client):
    r = client.get("/api/dashboard/summary", params={"user_id": "nobody"})
    assert r.status_code == 404
    assert "nobody" in r.json()["detail"]


def test_user_with_only_old_samples_gets_empty_window(client):
    post(client, sample(minutes_ago=600))
    body = client.get("/api/dashboard/summary", params={"user_id": "athlete-1"}).json()
    assert body["sample_count"] == 0 and body["metrics"] == {} and body["alerts"] == []


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"user_id": "bad id"},
        {"user_id": "x" * 65},
        {"user_id": "athlete-1", "window_minutes": 0},
        {"user_id": "athlete-1", "window_minutes": 10081},
        {"user_id": "athlete-1", "window_minutes": "soon"},
    ],
)
def test_summary_rejects_bad_query(client, params):
    assert client.get("/api/dashboard/summary", params=params).status_code == 422


@pytest.mark.parametrize(
    "bad,fragment",
    [
        (sample(metric="blood_sugar"), "metric"),
        (sample(value=400), "plausible range"),
        (sample(unit="bps"), "must be sent in 'bpm'"),
        ({**sample(), "recorded_at": "2024-05-01T11:00:00"}, "timezone"),
        ({**sample(), "value": "fast"}, "value"),
        ({**sample(), "extra": 1}, "extra"),
        (sample(user="../etc"), "user_id"),
    ],
)
def test_ingest_rejects_invalid_samples(client, store, bad, fragment):
    r = post(client, sample(), bad)
    assert r.status_code == 422
    assert fragment in json.dumps(r.json())
    assert len(store) == 0  # all-or-nothing


def test_ingest_rejects_empty_and_oversized_batches(client):
    assert client.post("/api/biometrics/samples", json={"samples": []}).status_code == 422
    too_many = [sample() for _ in range(1001)]
    assert client.post("/api/biometrics/samples", json={"samples": too_many}).status_code == 422


def test_ingest_rejects_samples_from_the_future(client, store):
    r = post(client, sample(minutes_ago=-30))
    assert r.status_code == 422 and "device clock" in r.json()["detail"]
    assert post(client, sample(minutes_ago=-4)).status_code == 202


def test_store_is_bounded_per_user(settings):
    from fastapi.testclient import TestClient

    small = Settings(max_samples_per_user=2, seed_file=None, default_window_minutes=60)
    c = TestClient(create_app(settings=small, clock=lambda: NOW))
    post(c, sample(value=60, minutes_ago=3), sample(value=61, minutes_ago=2), sample(value=62, minutes_ago=1))
    hr = c.get("/api/dashboard/summary", params={"user_id": "athlete-1"}).json()["metrics"]["heart_rate"]
    assert hr["count"] == 2 and hr["min"] == 61


def test_seed_file_is_loaded(tmp_path):
    from fastapi.testclient import TestClient

    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"samples": [sample(value=58), sample(metric="spo2", value=98)]}))
    settings = load_settings({"AUREN_SEED_FILE": str(seed)})
    c = TestClient(create_app(settings=settings, clock=lambda: NOW))
    body = c.get("/api/dashboard/summary", params={"user_id": "athlete-1"}).json()
    assert set(body["metrics"]) == {"heart_rate", "spo2"}


@pytest.mark.parametrize(
    "env,fragment",
    [
        ({"AUREN_MAX_SAMPLES_PER_USER": "lots"}, "not an integer"),
        ({"AUREN_MAX_SAMPLES_PER_USER": "0"}, "between 1"),
        ({"AUREN_DEFAULT_WINDOW_MINUTES": "20000"}, "between 1"),
    ],
)
def test_bad_settings_say_what_is_wrong(env, fragment):
    with pytest.raises(ConfigError, match=fragment):
        load_settings(env)


def test_bad_seed_file_is_a_config_error(tmp_path):
    missing = Settings(max_samples_per_user=10, seed_file=tmp_path / "nope.json", default_window_minutes=60)
    with pytest.raises(ConfigError, match="does not exist"):
        create_app(settings=missing)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([sample(value=1000)]))
    with pytest.raises(ConfigError, match="invalid sample"):
        create_app(settings=Settings(10, bad, 60))
