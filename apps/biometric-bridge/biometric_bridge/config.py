"""Configuration from the environment, validated once; secrets are never printed."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, Mapping, Optional, Tuple
from urllib.parse import urlsplit, urlunsplit


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Config:
    kafka_bootstrap_servers: Tuple[str, ...]
    kafka_topics: Tuple[str, ...]
    kafka_group_id: str
    kafka_auto_offset_reset: str
    kafka_security_protocol: str
    kafka_sasl_mechanism: Optional[str]
    kafka_sasl_username: Optional[str]
    kafka_sasl_password: Optional[str] = field(repr=False)
    database_url: str = field(repr=False)
    redis_url: str = field(repr=False)
    checkpoint_key_prefix: str = "biometric-bridge:offsets"
    batch_max_size: int = 500
    batch_max_age_seconds: float = 2.0
    http_host: str = "0.0.0.0"
    http_port: int = 8001
    log_level: str = "INFO"

    def describe(self) -> Dict[str, object]:
        """Config for logs: credentials in URLs are masked, the SASL password is omitted."""
        return {
            "kafka_bootstrap_servers": list(self.kafka_bootstrap_servers),
            "kafka_topics": list(self.kafka_topics),
            "kafka_group_id": self.kafka_group_id,
            "kafka_auto_offset_reset": self.kafka_auto_offset_reset,
            "kafka_security_protocol": self.kafka_security_protocol,
            "kafka_sasl_mechanism": self.kafka_sasl_mechanism,
            "database_url": redact_url(self.database_url),
            "redis_url": redact_url(self.redis_url),
            "checkpoint_key_prefix": self.checkpoint_key_prefix,
            "batch_max_size": self.batch_max_size,
            "batch_max_age_seconds": self.batch_max_age_seconds,
            "http": f"{self.http_host}:{self.http_port}",
            "log_level": self.log_level,
        }


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = parts.username or ""
    return urlunsplit((parts.scheme, f"{user}:***@{host}", parts.path, parts.query, parts.fragment))


_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
_HOSTPORT = re.compile(r"^[A-Za-z0-9._-]+:\d{1,5}$|^\[[0-9A-Fa-f:]+\]:\d{1,5}$")


def _required(env: Mapping[str, str], name: str, example: str) -> str:
    value = (env.get(name) or "").strip()
    if not value:
        raise ConfigError(f"{name} is not set; set it, e.g. {name}={example}")
    return value


def _number(env: Mapping[str, str], name: str, default, kind, lo, hi):
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a valid {kind.__name__}; unset it to use {default}") from None
    if not lo <= value <= hi:
        raise ConfigError(f"{name}={raw} must be between {lo} and {hi}")
    return value


def _choice(env: Mapping[str, str], name: str, default: str, choices: Tuple[str, ...]) -> str:
    value = (env.get(name) or default).strip()
    if value not in choices:
        raise ConfigError(f"{name}={value!r} must be one of {', '.join(choices)}")
    return value


def load_config(env: Mapping[str, str]) -> Config:
    servers = tuple(s.strip() for s in _required(env, "KAFKA_BOOTSTRAP_SERVERS", "kafka:9092").split(",") if s.strip())
    bad = [s for s in servers if not _HOSTPORT.match(s)]
    if bad:
        raise ConfigError(f"KAFKA_BOOTSTRAP_SERVERS entries must be host:port, got {', '.join(bad)}")
    topics = tuple(t.strip() for t in (env.get("KAFKA_TOPICS") or "biometric-events").split(",") if t.strip())
    bad = [t for t in topics if not _TOPIC.match(t)]
    if not topics or bad:
        raise ConfigError(f"KAFKA_TOPICS must be comma-separated Kafka topic names, got {env.get('KAFKA_TOPICS')!r}")

    database_url = _required(env, "DATABASE_URL", "postgresql://bridge@timescaledb:5432/auren")
    if urlsplit(database_url).scheme not in ("postgres", "postgresql"):
        raise ConfigError(f"DATABASE_URL must be a postgresql:// URL, got {redact_url(database_url)}")
    redis_url = _required(env, "REDIS_URL", "redis://redis:6379/0")
    if urlsplit(redis_url).scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(f"REDIS_URL must be a redis://, rediss:// or unix:// URL, got {redact_url(redis_url)}")

    protocol = _choice(env, "KAFKA_SECURITY_PROTOCOL", "PLAINTEXT", ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"))
    mechanism = (env.get("KAFKA_SASL_MECHANISM") or "").strip() or None
    if protocol.startswith("SASL_") and mechanism is None:
        raise ConfigError(f"KAFKA_SECURITY_PROTOCOL={protocol} needs KAFKA_SASL_MECHANISM (e.g. PLAIN, SCRAM-SHA-512)")

    return Config(
        kafka_bootstrap_servers=servers,
        kafka_topics=topics,
        kafka_group_id=(env.get("KAFKA_GROUP_ID") or "biometric-bridge").strip(),
        kafka_auto_offset_reset=_choice(env, "KAFKA_AUTO_OFFSET_RESET", "earliest", ("earliest", "latest")),
        kafka_security_protocol=protocol,
        kafka_sasl_mechanism=mechanism,
        kafka_sasl_username=(env.get("KAFKA_SASL_USERNAME") or None),
        kafka_sasl_password=(env.get("KAFKA_SASL_PASSWORD") or None),
        database_url=database_url,
        redis_url=redis_url,
        checkpoint_key_prefix=(env.get("CHECKPOINT_KEY_PREFIX") or "biometric-bridge:offsets").strip(),
        batch_max_size=_number(env, "BATCH_MAX_SIZE", 500, int, 1, 10_000),
        batch_max_age_seconds=_number(env, "BATCH_MAX_AGE_SECONDS", 2.0, float, 0.01, 300.0),
        http_host=(env.get("BRIDGE_HTTP_HOST") or "0.0.0.0").strip(),
        http_port=_number(env, "BRIDGE_HTTP_PORT", 8001, int, 0, 65535),
        log_level=_choice(env, "LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
    )
