"""biometric-bridge: Kafka biometric events -> validated, normalised rows in TimescaleDB."""

__version__ = "0.1.0"
