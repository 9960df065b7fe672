"""Prometheus metrics for /metrics, on a registry of our own (no process-global state).

prometheus-client is used rather than hand-written exposition: it gets the text format,
escaping and histogram buckets right and is what every Prometheus user already trusts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _CallbackGauges(Collector):
    """Gauges read at scrape time (queue depth, writer stats)."""

    def __init__(self) -> None:
        self.sources: dict[str, tuple[str, Callable[[], float]]] = {}

    def collect(self):  # type: ignore[no-untyped-def]
        for name, (doc, fn) in self.sources.items():
            family = GaugeMetricFamily(name, doc)
            family.add_metric([], float(fn()))
            yield family


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.http_requests = Counter(
            "signalcraft_http_requests",
            "HTTP requests by route template, method and status.",
            ("route", "method", "status"),
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "signalcraft_http_request_duration_seconds",
            "HTTP request latency by route template.",
            ("route", "method"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.task_runs = Counter(
            "signalcraft_task_runs",
            "Queue task runs by task and outcome.",
            ("task", "outcome"),
            registry=self.registry,
        )
        self.task_duration = Histogram(
            "signalcraft_task_duration_seconds",
            "Queue task run time.",
            ("task",),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.alerts_ingested = Counter(
            "signalcraft_alerts_ingested",
            "Alert events accepted, by source.",
            ("source",),
            registry=self.registry,
        )
        self.up = Gauge("signalcraft_up", "1 while the process serves.", registry=self.registry)
        self._callbacks = _CallbackGauges()
        self.registry.register(self._callbacks)
        # Children by label values: ``labels()`` validates and locks on every call, and the
        # request path asks for the same few children thousands of times a second.
        self._children: dict[tuple[Any, ...], Any] = {}

    def _child(self, metric: Any, *values: str) -> Any:
        key = (id(metric), *values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """One HTTP request: counted by route template, method and status; timed by route."""
        self._child(self.http_requests, route, method, str(status)).inc()
        self._child(self.http_latency, route, method).observe(seconds)

    def count_ingested(self, source: str, alerts: int) -> None:
        self._child(self.alerts_ingested, source).inc(alerts)

    def gauge_callback(self, name: str, doc: str, fn: Callable[[], float]) -> None:
        self._callbacks.sources[name] = (doc, fn)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
