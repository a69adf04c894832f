from datetime import datetime, timedelta, timezone

import pytest

from auren.api.metrics import (
    Metric,
    Sample,
    alerts_for,
    classify,
    summarise,
    summarise_metric,
    trend_per_hour,
    window_samples,
)

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc)


def s(metric, value, minutes=0, user="u1"):
    return Sample(user, metric, value, T0 + timedelta(minutes=minutes))


@pytest.mark.parametrize(
    "metric,value,expected",
    [
        (Metric.HEART_RATE, 39.9, "low"),
        (Metric.HEART_RATE, 40, "normal"),
        (Metric.HEART_RATE, 100, "normal"),
        (Metric.HEART_RATE, 101, "high"),
        (Metric.SPO2, 93.5, "low"),
        (Metric.SKIN_TEMPERATURE, 37.6, "high"),
        (Metric.HRV, 55, "normal"),
        (Metric.RESPIRATORY_RATE, 11, "low"),
    ],
)
def test_classify(metric, value, expected):
    assert classify(metric, value) == expected


@pytest.mark.parametrize(
    "points,expected",
    [
        ([], None),
        ([(0, 60)], None),
        ([(0, 60), (0, 70)], None),  # same instant: slope undefined
        ([(0, 60), (60, 70)], 10.0),
        ([(0, 70), (30, 65), (60, 60)], -10.0),
        ([(0, 60), (60, 60), (120, 60)], 0.0),
    ],
)
def test_trend_per_hour(points, expected):
    got = trend_per_hour([s(Metric.HEART_RATE, v, m) for m, v in points])
    assert got == (None if expected is None else pytest.approx(expected))


def test_summarise_metric_orders_by_time_and_reports_latest():
    pts = [s(Metric.HEART_RATE, 80, 20), s(Metric.HEART_RATE, 60, 0), s(Metric.HEART_RATE, 70, 10)]
    out = summarise_metric(Metric.HEART_RATE, pts)
    assert (out.count, out.mean, out.minimum, out.maximum) == (3, 70.0, 60, 80)
    assert out.latest == 80 and out.latest_at == T0 + timedelta(minutes=20)
    assert out.unit == "bpm"
    assert out.trend_per_hour == pytest.approx(60.0)
    assert out.stddev == pytest.approx(8.165, abs=1e-3)


def test_summarise_metric_rejects_empty():
    with pytest.raises(ValueError):
        summarise_metric(Metric.HRV, [])


def test_window_is_half_open():
    end = T0 + timedelta(minutes=60)
    pts = [s(Metric.HRV, 50, 0), s(Metric.HRV, 51, 1), s(Metric.HRV, 52, 60), s(Metric.HRV, 53, 61)]
    got = window_samples(pts, end, timedelta(minutes=60))
    assert [p.value for p in got] == [51, 52]


def test_summarise_groups_by_metric_and_alerts_on_latest_value():
    pts = [
        s(Metric.HEART_RATE, 110, 0),
        s(Metric.HEART_RATE, 72, 5),  # recovered: no alert for heart rate
        s(Metric.SPO2, 97, 0),
        s(Metric.SPO2, 91, 5),
    ]
    summaries = summarise(pts)
    assert list(m.value for m in summaries) == ["heart_rate", "spo2"]
    alerts = alerts_for(summaries)
    assert [(a.metric, a.status, a.value) for a in alerts] == [(Metric.SPO2, "low", 91)]
    assert "reference 94-100" in alerts[0].message
