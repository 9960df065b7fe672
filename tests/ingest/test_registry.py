"""The registry of integration types."""

from __future__ import annotations

from signalcraft.ingest.registry import SOURCES

from .conftest import FIXTURES


def test_every_source_has_fixtures_and_a_known_credential_kind() -> None:
    # "uptime" is internal: its alerts come from the probe engine, not from a wire format.
    assert set(SOURCES) - {"uptime"} == {p.name for p in FIXTURES.iterdir() if p.is_dir()}
    kinds = {"token-in-url", "routing_key", "genie_key", "sentry_dsn"}
    assert {spec.credential for spec in SOURCES.values()} <= kinds


def test_single_parser_sources_parse_a_minimal_payload() -> None:
    grafana = SOURCES["grafana"].parse
    assert grafana is not None
    assert grafana({"alerts": [{"labels": {"alertname": "A"}}]}, {}).alerts[0].source == "grafana"
