"""Request and response models (pydantic; Debian bookworm ships pydantic 1.10)."""
from __future__ import annotations

from datetime import datetime
from typing import Dict, List, Optional

from pydantic import BaseModel, Field, validator

from .metrics import METRIC_SPECS, Metric

USER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
MAX_SAMPLES_PER_REQUEST = 1000


class SampleIn(BaseModel):
    user_id: str = Field(..., regex=USER_ID_PATTERN)
    metric: Metric
    value: float
    unit: Optional[str] = Field(None, description="Must be the metric's canonical unit when given.")
    recorded_at: datetime

    class Config:
        extra = "forbid"

    @validator("recorded_at")
    def _timezone_aware(cls, v: datetime) -> datetime:
        # A naive timestamp is ambiguous across devices in different zones.
        if v.tzinfo is None or v.tzinfo.utcoffset(v) is None:
            raise ValueError("recorded_at must include a timezone offset, e.g. 2024-05-01T07:30:00Z")
        return v

    @validator("value")
    def _finite_and_plausible(cls, v: float, values: dict) -> float:
        if v != v or v in (float("inf"), float("-inf")):
            raise ValueError("value must be a finite number")
        metric = values.get("metric")
        if metric is not None:
            spec = METRIC_SPECS[metric]
            if not spec.plausible_min <= v <= spec.plausible_max:
                raise ValueError(
                    f"{metric.value} value {v:g} is outside the plausible range "
                    f"{spec.plausible_min:g}-{spec.plausible_max:g} {spec.unit}"
                )
        return v

    @validator("unit", always=True)
    def _canonical_unit(cls, v: Optional[str], values: dict) -> Optional[str]:
        metric = values.get("metric")
        if metric is None:
            return v
        expected = METRIC_SPECS[metric].unit
        if v is not None and v != expected:
            raise ValueError(
                f"{metric.value} must be sent in {expected!r}, got {v!r}; "
                "the biometric-bridge normalises device units before they reach the API"
            )
        return expected


class SamplesIn(BaseModel):
    samples: List[SampleIn] = Field(..., min_items=1, max_items=MAX_SAMPLES_PER_REQUEST)

    class Config:
        extra = "forbid"


class IngestResult(BaseModel):
    accepted: int


class MetricSummaryOut(BaseModel):
    unit: str
    count: int
    mean: float
    min: float
    max: float
    stddev: float
    latest: float
    latest_at: datetime
    trend_per_hour: Optional[float]
    status: str


class AlertOut(BaseModel):
    metric: Metric
    status: str
    value: float
    recorded_at: datetime
    message: str


class WindowOut(BaseModel):
    start: datetime
    end: datetime
    minutes: int


class DashboardSummary(BaseModel):
    user_id: str
    window: WindowOut
    sample_count: int
    metrics: Dict[str, MetricSummaryOut]
    alerts: List[AlertOut]


class Health(BaseModel):
    status: str
    service: str
    version: str
    samples: int
