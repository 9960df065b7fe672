"""``signalcraft serve`` answers accepted Alertmanager API v2 posts inside uvicorn's HTTP
protocol (``signalcraft/web/ingest/protocol.py``), without the ASGI cycle. Over real
sockets, the same app behind two uvicorn servers: the one ``serve`` runs (the ingest
protocol) and plain httptools (every request through the ASGI app). A sender must not be
able to tell them apart, byte for byte, but for the date and the timing."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from signalcraft.runtime import _Server, server_config
from signalcraft.web.ingest.protocol import IngestHttpProtocol
from tests.helpers import free_port
from tests.ingest_http.test_bad_input import LIMIT, Bench, Credential, Route, open_bench
from tests.ingest_http.test_fast_path import API_V2, ONE_ALERT

TIMING = re.compile(rb"^server-timing: app;dur=\d+\.\d$")


@dataclass
class Reply:
    status_line: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: bytes) -> bytes:
        return next(value for key, value in self.headers if key == name)

    def comparable(self) -> tuple[bytes, list[tuple[bytes, bytes]], bytes]:
        """Everything but the values that differ from one moment to the next."""
        varying = {b"date", b"server-timing"}
        return self.status_line, [(k, b"" if k in varying else v) for k, v in self.headers], self.body


class Served:
    """One uvicorn server for the bench's app in a thread, on a free loopback port."""

    def __init__(self, bench: Bench, *, plain: bool) -> None:
        config = server_config(bench.parts.app, bench.parts.ctx.settings, lifespan="off")
        if plain:
            config.http = "httptools"
        self.config = config
        self.server = _Server(config)
        self.port = free_port()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)
        self.thread.start()
        for _ in range(500):
            if self.server.started:
                break
            self.thread.join(0.01)
        assert self.server.started

    async def _serve(self) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", self.port))
        await self.server.serve(sockets=[sock])

    @property
    def answered_by_protocol(self) -> int:
        cls = self.config.http_protocol_class
        return cls.answered if issubclass(cls, IngestHttpProtocol) else 0

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)

    def exchange(self, request: bytes) -> Reply:
        with self.connect() as conn:
            conn.sendall(request)
            return read_reply(conn.makefile("rb"))

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def read_reply(stream: object) -> Reply:
    readline = stream.readline  # type: ignore[attr-defined]
    status_line = readline()
    headers = []
    while (line := readline()) != b"\r\n":
        assert line, f"connection closed inside the headers after {status_line!r} {headers!r}"
        name, _, value = line.rstrip(b"\r\n").partition(b": ")
        headers.append((name, value))
    length = int(next(v for k, v in headers if k == b"content-length"))
    body = stream.read(length)  # type: ignore[attr-defined]
    return Reply(status_line, headers, body)


def post(route: Route, credential: Credential, body: bytes, *extra: str) -> bytes:
    headers = {**route.auth(credential.secret), "Content-Length": str(len(body))}
    lines = [f"POST {route.path(credential)} HTTP/1.1", "Host: 127.0.0.1", *extra]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[Bench, Served, Served]]:
    with open_bench(tmp_path) as bench:
        fast, plain = Served(bench, plain=False), Served(bench, plain=True)
        try:
            yield bench, fast, plain
        finally:
            fast.stop()
            plain.stop()


@pytest.mark.parametrize("route", API_V2, ids=str)
def test_an_accepted_post_gets_the_same_bytes_as_through_the_asgi_app(
    servers: tuple[Bench, Served, Served], route: Route
) -> None:
    bench, fast, plain = servers
    credential = bench.create(route)
    request = post(route, credential, ONE_ALERT, "X-Request-Id: prometheus-0001")
    by_protocol, by_app = fast.exchange(request), plain.exchange(request)
    assert by_protocol.status_line == b"HTTP/1.1 200 OK\r\n"
    assert by_protocol.comparable() == by_app.comparable()
    assert TIMING.match(b"server-timing: " + by_protocol.header(b"server-timing"))
    assert fast.answered_by_protocol == 1
    assert bench.counts()["ingest_accepted"] == 2
    assert bench.counts()["alerts"] == 1


@pytest.mark.parametrize("route", API_V2, ids=str)
def test_every_refusal_is_the_apps_answer_and_costs_no_rate_limit_token(
    servers: tuple[Bench, Served, Served], route: Route
) -> None:
    bench, fast, plain = servers
    credential = bench.create(route)
    unknown = Credential(credential.id, "not-a-credential-0000")
    refused = {
        "unknown credential": (post(route, unknown, ONE_ALERT, "X-Request-Id: refusal-0001"), 401),
        "invalid JSON": (post(route, credential, b'[{"labels": ', "X-Request-Id: refusal-0002"), 400),
        "wrong field": (
            post(route, credential, route.wrong(credential.secret), "X-Request-Id: refusal-0003"),
            400,
        ),
        "too large": (post(route, credential, b"[" + b" " * LIMIT + b"]", "X-Request-Id: refusal-0004"), 413),
    }
    for case, (request, status) in refused.items():
        by_protocol, by_app = fast.exchange(request), plain.exchange(request)
        assert by_protocol.status_line.startswith(b"HTTP/1.1 %d " % status), case
        assert by_protocol.comparable() == by_app.comparable(), case
    assert fast.answered_by_protocol == 0
    assert bench.counts()["alerts"] == 0


def test_the_rate_limit_is_the_apps_429_once_the_bucket_is_empty(tmp_path: Path) -> None:
    route = API_V2[0]
    with open_bench(tmp_path, rate_limit_per_minute=2) as bench:
        fast = Served(bench, plain=False)
        try:
            credential = bench.create(route)
            statuses = [fast.exchange(post(route, credential, ONE_ALERT)).status_line for _ in range(3)]
        finally:
            fast.stop()
    assert statuses[:2] == [b"HTTP/1.1 200 OK\r\n"] * 2
    assert statuses[2].startswith(b"HTTP/1.1 429 ")
    assert fast.answered_by_protocol == 2


def test_pipelined_and_keep_alive_posts_are_answered_in_order_on_one_connection(
    servers: tuple[Bench, Served, Served],
) -> None:
    bench, fast, _ = servers
    route = API_V2[0]
    credential = bench.create(route)
    first = post(route, credential, ONE_ALERT, "X-Request-Id: pipelined-0001")
    bad = post(route, credential, b"[", "X-Request-Id: pipelined-0002")
    third = post(route, credential, ONE_ALERT, "X-Request-Id: pipelined-0003")
    with fast.connect() as conn:
        conn.sendall(first + bad)  # the second one waits for the first's answer
        stream = conn.makefile("rb")
        replies = [read_reply(stream), read_reply(stream)]
        conn.sendall(third)
        replies.append(read_reply(stream))
    assert [r.status_line[:12] for r in replies] == [b"HTTP/1.1 200", b"HTTP/1.1 400", b"HTTP/1.1 200"]
    ids = [r.header(b"x-request-id") for r in replies]
    assert ids == [b"pipelined-0001", b"pipelined-0002", b"pipelined-0003"]
    assert fast.answered_by_protocol == 2
    assert bench.counts()["ingest_accepted"] == 2


def test_a_body_arriving_in_pieces_or_chunked_is_read_whole(servers: tuple[Bench, Served, Served]) -> None:
    bench, fast, _ = servers
    route = API_V2[0]
    credential = bench.create(route)
    request = post(route, credential, ONE_ALERT)
    head = request[: len(request) - len(ONE_ALERT)]
    chunked = head.replace(f"Content-Length: {len(ONE_ALERT)}".encode(), b"Transfer-Encoding: chunked")
    with fast.connect() as conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        stream = conn.makefile("rb")
        for piece in (head, ONE_ALERT[:7], ONE_ALERT[7:30], ONE_ALERT[30:]):
            conn.sendall(piece)
        in_pieces = read_reply(stream)
        conn.sendall(chunked)
        for piece in (ONE_ALERT[:20], ONE_ALERT[20:]):
            conn.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        conn.sendall(b"0\r\n\r\n")
        by_chunks = read_reply(stream)
    assert in_pieces.status_line == by_chunks.status_line == b"HTTP/1.1 200 OK\r\n"
    assert fast.answered_by_protocol == 2
    assert bench.counts()["ingest_accepted"] == 2


def test_a_client_asking_to_close_gets_connection_close_and_a_closed_socket(
    servers: tuple[Bench, Served, Served],
) -> None:
    bench, fast, plain = servers
    route = API_V2[0]
    credential = bench.create(route)
    request = post(route, credential, ONE_ALERT, "Connection: close", "X-Request-Id: closing-0001")
    replies = []
    for server in (fast, plain):
        with server.connect() as conn:
            conn.sendall(request)
            stream = conn.makefile("rb")
            replies.append(read_reply(stream))
            assert stream.read() == b""  # the server closed its end
    assert replies[0].comparable() == replies[1].comparable()
    assert replies[0].header(b"connection") == b"close"
    assert fast.answered_by_protocol == 1


def test_an_answered_post_is_counted_and_logged_like_any_request(
    servers: tuple[Bench, Served, Served], caplog: pytest.LogCaptureFixture
) -> None:
    bench, fast, _ = servers
    route = API_V2[0]
    credential = bench.create(route)
    with caplog.at_level(logging.INFO, logger="signalcraft.access"):
        assert fast.exchange(post(route, credential, ONE_ALERT)).status_line == b"HTTP/1.1 200 OK\r\n"
    assert fast.answered_by_protocol == 1
    logged = [r.getMessage() for r in caplog.records if r.name == "signalcraft.access"]
    line = re.compile(rf"POST {re.escape(route.path(credential))} 200 \d+\.\dms")
    assert any(line.fullmatch(message) for message in logged), logged
    metrics = bench.client.get("/metrics").text
    counted = [
        {k: v for k, v in re.findall(r'(\w+)="([^"]*)"', labels) if k in ("route", "method", "status")}
        for labels in re.findall(r"signalcraft_http_requests_total\{(.*)\} 1\.0", metrics)
    ]
    assert {"route": "/ingest/{token}/api/v2/alerts", "method": "POST", "status": "200"} in counted, counted


def test_a_post_expecting_100_continue_is_left_to_the_asgi_app(
    servers: tuple[Bench, Served, Served],
) -> None:
    bench, fast, _ = servers
    route = API_V2[0]
    credential = bench.create(route)
    request = post(route, credential, ONE_ALERT, "Expect: 100-continue")
    head = request[: len(request) - len(ONE_ALERT)]
    with fast.connect() as conn:
        conn.sendall(head)
        stream = conn.makefile("rb")
        assert stream.readline() == b"HTTP/1.1 100 Continue\r\n"
        assert stream.readline() == b"\r\n"
        conn.sendall(ONE_ALERT)
        reply = read_reply(stream)
    assert reply.status_line == b"HTTP/1.1 200 OK\r\n"
    assert fast.answered_by_protocol == 0
    assert bench.counts()["ingest_accepted"] == 1


def test_a_storage_outage_is_answered_by_the_apps_error_mapping(
    servers: tuple[Bench, Served, Served],
) -> None:
    bench, fast, plain = servers
    route = API_V2[0]
    credential = bench.create(route)
    request = post(route, credential, ONE_ALERT, "X-Request-Id: outage-0001")
    assert fast.exchange(request).status_line == b"HTTP/1.1 200 OK\r\n"  # the credential is now cached
    assert plain.exchange(request).status_line == b"HTTP/1.1 200 OK\r\n"
    bench.parts.ctx.db.writer.stop()
    by_protocol, by_app = fast.exchange(request), plain.exchange(request)
    assert by_protocol.status_line.startswith(b"HTTP/1.1 503 ")
    assert by_protocol.comparable() == by_app.comparable()
    assert fast.answered_by_protocol == 1
