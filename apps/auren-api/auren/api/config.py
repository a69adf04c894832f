"""Settings from the environment, read once at start-up."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import List, Mapping, Optional

from pydantic import ValidationError

from .metrics import Sample
from .models import SamplesIn


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    max_samples_per_user: int
    seed_file: Optional[Path]
    default_window_minutes: int


def _int(env: Mapping[str, str], name: str, default: int, minimum: int, maximum: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer; unset it to use {default}") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name}={value} must be between {minimum} and {maximum}")
    return value


def load_settings(env: Mapping[str, str] = os.environ) -> Settings:
    seed = env.get("AUREN_SEED_FILE") or None
    return Settings(
        max_samples_per_user=_int(env, "AUREN_MAX_SAMPLES_PER_USER", 10_000, 1, 1_000_000),
        seed_file=Path(seed) if seed else None,
        default_window_minutes=_int(env, "AUREN_DEFAULT_WINDOW_MINUTES", 60, 1, 10_080),
    )


def load_seed(path: Path) -> List[Sample]:
    """Read a JSON file shaped like the POST /api/biometrics/samples body."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"AUREN_SEED_FILE {path} does not exist; unset it or mount the file") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"AUREN_SEED_FILE {path} is not valid JSON: {e}") from None
    try:
        # No request-size cap for a seed file, so validate items one by one.
        items = payload["samples"] if isinstance(payload, dict) else payload
        parsed = [SamplesIn(samples=[item]).samples[0] for item in items]
    except (KeyError, TypeError):
        raise ConfigError(f"AUREN_SEED_FILE {path} must hold a list of samples or {{\"samples\": [...]}}") from None
    except ValidationError as e:
        raise ConfigError(f"AUREN_SEED_FILE {path} has an invalid sample: {e}") from None
    return [Sample(p.user_id, p.metric, p.value, p.recorded_at) for p in parsed]
