"""The Alertmanager API v2 routes answer an accepted request without Litestar's routing
(``signalcraft/web/ingest/fast.py``) and hand every other request to the Litestar route.
What a sender sees must not tell the two apart; ``test_bad_input.py`` and ``test_formats.py``
drive both routes through every refusal, these pin what the hand-over itself could get wrong."""

from __future__ import annotations

import asyncio
import gzip
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.types import Message

from signalcraft.web.ingest.routes import API_V2_OK
from tests.ingest_http.test_bad_input import ROUTES, Bench, Route, open_bench

API_V2 = [r for r in ROUTES if r.name.startswith("alertmanager-api-v2")]
ONE_ALERT = b'[{"labels": {"alertname": "DiskFull", "instance": "db1"}, "annotations": {"summary": "disk"}}]'


@pytest.fixture(scope="module")
def three_a_minute(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    with open_bench(tmp_path_factory.mktemp("fast-path"), rate_limit_per_minute=3) as opened:
        yield opened


def alerts_stored(bench: Bench) -> int:
    return bench.counts()["alerts"]


@pytest.mark.parametrize("route", API_V2, ids=str)
def test_a_refused_body_costs_one_request_of_the_rate_limit_like_an_accepted_one(
    three_a_minute: Bench, route: Route
) -> None:
    bench = three_a_minute
    credential = bench.create(route)
    assert bench.send(route, credential, b'[{"labels": ').status_code == 400
    assert bench.send(route, credential).status_code == 200
    assert bench.send(route, credential).status_code == 200
    refused = bench.send(route, credential)
    assert refused.status_code == 429, refused.text
    assert refused.headers["Retry-After"].isdigit()


@pytest.mark.parametrize("route", API_V2, ids=str)
def test_an_accepted_request_gets_the_routes_answer_and_the_common_headers(
    tmp_path: Path, route: Route
) -> None:
    with open_bench(tmp_path) as bench:
        credential = bench.create(route)
        response = bench.send(route, credential, ONE_ALERT, **{"X-Request-Id": "prometheus-0001"})
        assert response.status_code == 200, response.text
        assert response.content == b"null"
        assert response.headers["content-type"] == "application/json"
        assert response.headers["x-request-id"] == "prometheus-0001"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert alerts_stored(bench) == 1


@pytest.mark.parametrize("route", API_V2, ids=str)
def test_an_accepted_request_gets_exactly_the_status_headers_and_body_of_the_litestar_route(
    tmp_path: Path, route: Route
) -> None:
    sent: list[Message] = []

    async def collect(message: Message) -> None:
        sent.append(message)

    async def nothing() -> Message:
        return {"type": "http.disconnect"}

    asyncio.run(API_V2_OK({"type": "http", "method": "POST", "headers": []}, nothing, collect))  # type: ignore[arg-type]
    start, body = sent
    with open_bench(tmp_path) as bench:
        response = bench.send(route, bench.create(route), ONE_ALERT)
    assert response.status_code == start["status"] == 200
    assert response.content == body["body"]
    for name, value in start["headers"]:
        assert response.headers.get_list(name.decode()) == [value.decode()]


@pytest.mark.parametrize("route", API_V2, ids=str)
def test_accepted_and_handed_over_requests_are_counted_under_the_same_route(
    tmp_path: Path, route: Route
) -> None:
    with open_bench(tmp_path) as bench:
        credential = bench.create(route)
        assert bench.send(route, credential, ONE_ALERT).status_code == 200
        assert bench.send(route, credential, b"{").status_code == 400  # answered by Litestar
        metrics = bench.client.get("/metrics").text
        counted = re.findall(r'signalcraft_http_requests_total\{(.*)\} 1\.0', metrics)
        routes = {
            status: dict(re.findall(r'(\w+)="([^"]*)"', labels))["route"]
            for labels in counted
            if 'method="POST"' in labels and "alerts" in labels
            for status in re.findall(r'status="(\d+)"', labels)
        }
        assert routes["200"] == routes["400"], routes
        assert routes["200"].endswith("/api/v2/alerts")


@pytest.mark.parametrize("route", API_V2, ids=str)
def test_a_body_in_several_chunks_or_gzipped_is_read_whole(tmp_path: Path, route: Route) -> None:
    with open_bench(tmp_path) as bench:
        credential = bench.create(route)
        chunks = iter([ONE_ALERT[:10], ONE_ALERT[10:40], ONE_ALERT[40:]])
        headers = route.auth(credential.secret)
        streamed = bench.client.post(route.path(credential), content=chunks, headers=headers)
        assert streamed.status_code == 200, streamed.text
        zipped = bench.send(route, credential, gzip.compress(ONE_ALERT), **{"Content-Encoding": "gzip"})
        assert zipped.status_code == 200, zipped.text
        assert bench.counts()["ingest_accepted"] == 2
        assert alerts_stored(bench) == 1  # the same label set twice: one alert

