"""AUREN dashboard API: ingest normalised biometric samples and summarise them.

Run: uvicorn auren.api.dashboard_api_minimal:app --host 0.0.0.0 --port 8000
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Callable, Optional

from fastapi import FastAPI, HTTPException, Path, Query, status

from .. import __version__
from .config import Settings, load_seed, load_settings
from .metrics import Sample, alerts_for, summarise, window_samples
from .models import (
    USER_ID_PATTERN,
    AlertOut,
    DashboardSummary,
    Health,
    IngestResult,
    MetricSummaryOut,
    SamplesIn,
    WindowOut,
)
from .store import SampleStore

Clock = Callable[[], datetime]

# Devices' clocks drift; a sample slightly in the future is accepted, a far one is a bug.
MAX_CLOCK_SKEW = timedelta(minutes=5)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def create_app(
    settings: Optional[Settings] = None,
    store: Optional[SampleStore] = None,
    clock: Clock = _utcnow,
) -> FastAPI:
    settings = settings or load_settings()
    store = store or SampleStore(settings.max_samples_per_user)
    if settings.seed_file is not None:
        store.add(load_seed(settings.seed_file))

    app = FastAPI(title="AUREN dashboard API", version=__version__)

    @app.get("/health", response_model=Health)
    def health() -> Health:
        return Health(status="ok", service="auren-api", version=__version__, samples=len(store))

    @app.post(
        "/api/biometrics/samples",
        response_model=IngestResult,
        status_code=status.HTTP_202_ACCEPTED,
    )
    def ingest(body: SamplesIn) -> IngestResult:
        limit = clock() + MAX_CLOCK_SKEW
        future = [s for s in body.samples if s.recorded_at > limit]
        if future:
            raise HTTPException(
                status_code=422,
                detail=f"{len(future)} sample(s) are more than {int(MAX_CLOCK_SKEW.total_seconds() // 60)} "
                f"minutes in the future (first: {future[0].recorded_at.isoformat()}); check the device clock",
            )
        accepted = store.add(
            Sample(s.user_id, s.metric, s.value, s.recorded_at.astimezone(timezone.utc)) for s in body.samples
        )
        return IngestResult(accepted=accepted)

    @app.get("/api/dashboard/users")
    def users() -> dict:
        return {"users": store.users()}

    @app.get("/api/dashboard/summary", response_model=DashboardSummary)
    def summary(
        user_id: str = Query(..., regex=USER_ID_PATTERN),
        window_minutes: int = Query(settings.default_window_minutes, ge=1, le=10_080),
    ) -> DashboardSummary:
        return _summary(user_id, window_minutes)

    @app.get("/api/dashboard/{user_id}/summary", response_model=DashboardSummary)
    def summary_by_path(
        user_id: str = Path(..., regex=USER_ID_PATTERN),
        window_minutes: int = Query(settings.default_window_minutes, ge=1, le=10_080),
    ) -> DashboardSummary:
        return _summary(user_id, window_minutes)

    def _summary(user_id: str, window_minutes: int) -> DashboardSummary:
        history = store.for_user(user_id)
        if not history:
            raise HTTPException(status_code=404, detail=f"no biometric samples for user {user_id!r}")
        end = clock()
        window = timedelta(minutes=window_minutes)
        recent = window_samples(history, end, window)
        summaries = summarise(recent)
        return DashboardSummary(
            user_id=user_id,
            window=WindowOut(start=end - window, end=end, minutes=window_minutes),
            sample_count=len(recent),
            metrics={
                m.value: MetricSummaryOut(
                    unit=s.unit,
                    count=s.count,
                    mean=s.mean,
                    min=s.minimum,
                    max=s.maximum,
                    stddev=s.stddev,
                    latest=s.latest,
                    latest_at=s.latest_at,
                    trend_per_hour=s.trend_per_hour,
                    status=s.status,
                )
                for m, s in summaries.items()
            },
            alerts=[AlertOut(**a.__dict__) for a in alerts_for(summaries)],
        )

    return app


app = create_app()
