"""Biometric metric catalogue and the aggregation behind the dashboard.

Pure functions over plain values: no I/O, no clock, so the summary logic is
table-testable. Units are the canonical ones the biometric-bridge normalises to.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Dict, Iterable, List, Optional, Sequence


class Metric(str, Enum):
    HEART_RATE = "heart_rate"
    HRV = "hrv"
    SKIN_TEMPERATURE = "skin_temperature"
    SPO2 = "spo2"
    RESPIRATORY_RATE = "respiratory_rate"


@dataclass(frozen=True)
class MetricSpec:
    unit: str
    # Physically plausible bounds: values outside are rejected at ingestion.
    plausible_min: float
    plausible_max: float
    # Resting reference range for an adult: values outside raise an alert.
    normal_min: float
    normal_max: float


METRIC_SPECS: Dict[Metric, MetricSpec] = {
    Metric.HEART_RATE: MetricSpec("bpm", 20, 250, 40, 100),
    Metric.HRV: MetricSpec("ms", 1, 500, 20, 200),
    Metric.SKIN_TEMPERATURE: MetricSpec("celsius", 20, 45, 30, 37.5),
    Metric.SPO2: MetricSpec("percent", 50, 100, 94, 100),
    Metric.RESPIRATORY_RATE: MetricSpec("breaths_per_minute", 3, 60, 12, 20),
}


@dataclass(frozen=True)
class Sample:
    user_id: str
    metric: Metric
    value: float
    recorded_at: datetime


@dataclass(frozen=True)
class MetricSummary:
    metric: Metric
    unit: str
    count: int
    mean: float
    minimum: float
    maximum: float
    stddev: float
    latest: float
    latest_at: datetime
    # Least-squares slope of value over time, in units per hour; None below 2 samples.
    trend_per_hour: Optional[float]
    status: str  # "normal" | "low" | "high", judged on the latest value


@dataclass(frozen=True)
class Alert:
    metric: Metric
    status: str
    value: float
    recorded_at: datetime
    message: str


def classify(metric: Metric, value: float) -> str:
    spec = METRIC_SPECS[metric]
    if value < spec.normal_min:
        return "low"
    if value > spec.normal_max:
        return "high"
    return "normal"


def trend_per_hour(points: Sequence[Sample]) -> Optional[float]:
    """Slope of the least-squares line through (hours, value)."""
    if len(points) < 2:
        return None
    t0 = points[0].recorded_at
    xs = [(p.recorded_at - t0).total_seconds() / 3600.0 for p in points]
    ys = [p.value for p in points]
    mean_x = math.fsum(xs) / len(xs)
    mean_y = math.fsum(ys) / len(ys)
    var_x = math.fsum((x - mean_x) ** 2 for x in xs)
    if var_x == 0:
        # All samples share one timestamp: the slope is undefined, not zero.
        return None
    cov = math.fsum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys))
    return cov / var_x


def summarise_metric(metric: Metric, points: Sequence[Sample]) -> MetricSummary:
    if not points:
        raise ValueError(f"no samples for {metric.value}")
    ordered = sorted(points, key=lambda p: p.recorded_at)
    values = [p.value for p in ordered]
    latest = ordered[-1]
    slope = trend_per_hour(ordered)
    return MetricSummary(
        metric=metric,
        unit=METRIC_SPECS[metric].unit,
        count=len(values),
        mean=round(statistics.fmean(values), 3),
        minimum=min(values),
        maximum=max(values),
        stddev=round(statistics.pstdev(values), 3),
        latest=latest.value,
        latest_at=latest.recorded_at,
        trend_per_hour=None if slope is None else round(slope, 3),
        status=classify(metric, latest.value),
    )


def window_samples(samples: Iterable[Sample], end: datetime, window: timedelta) -> List[Sample]:
    """Samples with end - window < recorded_at <= end."""
    start = end - window
    return [s for s in samples if start < s.recorded_at <= end]


def summarise(samples: Iterable[Sample]) -> Dict[Metric, MetricSummary]:
    by_metric: Dict[Metric, List[Sample]] = {}
    for s in samples:
        by_metric.setdefault(s.metric, []).append(s)
    return {m: summarise_metric(m, pts) for m, pts in sorted(by_metric.items(), key=lambda kv: kv[0].value)}


def alerts_for(summaries: Dict[Metric, MetricSummary]) -> List[Alert]:
    out: List[Alert] = []
    for metric, summary in summaries.items():
        if summary.status == "normal":
            continue
        spec = METRIC_SPECS[metric]
        bound = spec.normal_min if summary.status == "low" else spec.normal_max
        out.append(
            Alert(
                metric=metric,
                status=summary.status,
                value=summary.latest,
                recorded_at=summary.latest_at,
                message=(
                    f"latest {metric.value} {summary.latest:g} {spec.unit} is {summary.status} "
                    f"(reference {spec.normal_min:g}-{spec.normal_max:g}, limit {bound:g})"
                ),
            )
        )
    return out
