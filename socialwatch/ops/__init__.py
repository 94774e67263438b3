"""Operations: systemd integration, health, metrics, logs, credential checks and crash points for tests."""
