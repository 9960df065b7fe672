"""End-to-end tests that drive real clients (Alertmanager, Prometheus, sentry-sdk) at a served SignalCraft."""
