import pytest

from biometric_bridge.config import ConfigError, load_config, redact_url

BASE = {
    "KAFKA_BOOTSTRAP_SERVERS": "kafka-1:9092, kafka-2:9092",
    "DATABASE_URL": "postgresql://bridge:s3cret@timescaledb:5432/auren",
    "REDIS_URL": "redis://:r3dis@redis:6379/0",
}


def test_defaults_and_redaction():
    c = load_config(BASE)
    assert c.kafka_bootstrap_servers == ("kafka-1:9092", "kafka-2:9092")
    assert c.kafka_topics == ("biometric-events",)
    assert (c.batch_max_size, c.http_port, c.kafka_auto_offset_reset) == (500, 8001, "earliest")
    described = repr(c.describe()) + repr(c)
    assert "s3cret" not in described and "r3dis" not in described
    assert c.describe()["database_url"] == "postgresql://bridge:***@timescaledb:5432/auren"


@pytest.mark.parametrize(
    "url,expected",
    [
        ("redis://redis:6379/0", "redis://redis:6379/0"),
        ("postgresql://u:p@h/db?sslmode=require", "postgresql://u:***@h/db?sslmode=require"),
        ("redis://:p@h:6379", "redis://:***@h:6379"),
    ],
)
def test_redact_url(url, expected):
    assert redact_url(url) == expected


@pytest.mark.parametrize(
    "override,fragment",
    [
        ({"KAFKA_BOOTSTRAP_SERVERS": ""}, "KAFKA_BOOTSTRAP_SERVERS is not set"),
        ({"KAFKA_BOOTSTRAP_SERVERS": "kafka"}, "host:port"),
        ({"DATABASE_URL": ""}, "DATABASE_URL is not set"),
        ({"DATABASE_URL": "mysql://u:pw@h/db"}, "postgresql://"),
        ({"REDIS_URL": "http://redis"}, "REDIS_URL must be"),
        ({"KAFKA_TOPICS": "bad topic"}, "KAFKA_TOPICS"),
        ({"BATCH_MAX_SIZE": "many"}, "not a valid int"),
        ({"BATCH_MAX_SIZE": "0"}, "between 1"),
        ({"BATCH_MAX_AGE_SECONDS": "0"}, "between 0.01"),
        ({"KAFKA_AUTO_OFFSET_RESET": "middle"}, "earliest, latest"),
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "KAFKA_SASL_MECHANISM"),
    ],
)
def test_errors_say_what_to_fix(override, fragment):
    with pytest.raises(ConfigError, match=fragment):
        load_config({**BASE, **override})


def test_mysql_password_is_not_echoed():
    with pytest.raises(ConfigError) as e:
        load_config({**BASE, "DATABASE_URL": "mysql://u:pw@h/db"})
    assert ":pw@" not in str(e.value) and ":***@" in str(e.value)


def test_entrypoint_reports_config_errors(capsys):
    from biometric_bridge.__main__ import main
    import os

    old = dict(os.environ)
    try:
        for k in BASE:
            os.environ.pop(k, None)
        assert main([]) == 2
        assert "KAFKA_BOOTSTRAP_SERVERS is not set" in capsys.readouterr().err
        os.environ.update(BASE)
        assert main(["--check-config"]) == 0
        out = capsys.readouterr().out
        assert "timescaledb:5432" in out and "s3cret" not in out
    finally:
        os.environ.clear()
        os.environ.update(old)
