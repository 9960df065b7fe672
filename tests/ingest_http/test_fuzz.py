"""Thousands of malformed bodies against every ingest route, through the real app in-process.

The contract under test (CONVENTIONS: "5xx means a bug or an outage, never bad input"):

- no body, however broken, gets a 5xx;
- a request that is not answered 2xx adds no alert, group, timeline event, raw payload,
  deploy or heartbeat row (a refused line in the ingest log is allowed);
- a 400 comes in the route's own error shape (PagerDuty, Opsgenie, Sentry or SignalCraft's);
- whatever *was* accepted can be read back through the API without an error.

Four generators: random JSON values; each format's real samples with wrong types, deleted
keys and foreign values in random places; random bytes under random ``Content-Encoding``;
real samples (of any format, to any route) cut at a random byte. Each test builds its app
once and lets hypothesis drive it; about 2,600 requests in all, sized to keep the module
under a minute on a busy machine.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.ingest_http.conftest import SAMPLES, sample
from tests.ingest_http.test_bad_input import ROUTES, Bench, Credential, Route, error_text, open_bench

STORED = ("alerts", "alert_groups", "alert_events", "raw_payloads", "deploy_events", "heartbeat_pings")
FUZZ = settings(
    deadline=None,
    database=None,  # nothing written into the source tree
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

JSONDoc = Any

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=25,
)
encodings = st.sampled_from([None, "gzip", "deflate", "identity", "gzip, identity", "br", "x-gzip"])


# --- sending and checking -----------------------------------------------------------------------


class Target:
    """The app under test, an integration per route, and the checks made after every request."""

    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        self.credentials = {route.name: bench.create(route) for route in ROUTES}
        self.statuses: dict[int, int] = {}

    def credential(self, route: Route) -> Credential:
        return self.credentials[route.name]

    def post(self, route: Route, body: bytes, encoding: str | None = None) -> httpx.Response:
        credential = self.credential(route)
        before = self.stored()
        headers = {"Content-Encoding": encoding} if encoding else {}
        response = self.bench.send(route, credential, body, **headers)
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        assert response.status_code < 500, f"{route}: {response.status_code} {response.text[:300]}"
        if not 200 <= response.status_code < 300:
            assert self.stored() == before, f"{route}: refused with {response.status_code} but stored rows"
        if response.status_code == 400:
            error_text(response, route.shape)  # fails unless the route's own error shape
        return response

    def stored(self) -> dict[str, int]:
        counts = self.bench.counts()
        return {name: counts[name] for name in STORED}

    def assert_everything_accepted_reads_back(self) -> None:
        client = self.bench.client
        cursor: str | None = ""
        while cursor is not None:
            page = client.get("/api/v1/workspaces/acme/alert-groups", params={"limit": 200, "cursor": cursor})
            assert page.status_code == 200, page.text
            for group in page.json()["groups"]:
                detail = client.get(f"/api/v1/workspaces/acme/alert-groups/{group['id']}")
                assert detail.status_code == 200, detail.text
                for alert in detail.json()["alerts"]:
                    if alert["raw_id"] is not None:
                        raw = client.get(f"/api/v1/workspaces/acme/raw-payloads/{alert['raw_id']}")
                        assert raw.status_code == 200, raw.text
            cursor = page.json()["next_cursor"]


def fuzz(
    tmp_path: Path, examples: int, strategy: st.SearchStrategy[Any], send: Callable[[Target, Any], None]
) -> None:
    """Run ``send`` on ``examples`` values of ``strategy`` against one app built in ``tmp_path``."""
    with open_bench(tmp_path) as bench:
        target = Target(bench)

        @settings(FUZZ, max_examples=examples)
        @given(strategy)
        def run(value: Any) -> None:
            send(target, value)

        run()
        target.assert_everything_accepted_reads_back()
        assert sum(target.statuses.values()) >= examples


# --- documents shaped like each format ----------------------------------------------------------


def envelope_parts(body: bytes) -> list[JSONDoc]:
    """A line-based envelope as [header, item header, payload, ...] with ``length`` dropped,
    so a mutated payload still frames correctly and the parser reaches it."""
    parts = [json.loads(line) for line in body.split(b"\n") if line.strip()]
    for part in parts[1::2]:
        if isinstance(part, dict):
            part.pop("length", None)
    return parts


def envelope_of(parts: JSONDoc) -> bytes:
    if not isinstance(parts, list):
        return json.dumps(parts).encode()
    return b"".join(json.dumps(part).encode() + b"\n" for part in parts)


EXTRA_SAMPLES: dict[str, list[tuple[str, str]]] = {
    "token-alertmanager": [
        ("alertmanager", "002-resolved-group.json"),
        ("alertmanager", "003-no-fingerprint-extra-fields.json"),
    ],
    "token-datadog": [("datadog", "002-recovered-no-priority.json")],
    "token-webhook": [("webhook", "002-list-of-alerts.json")],
    "opsgenie-create": [("opsgenie", "003-create-priority-tags-details.json")],
}


def documents(route: Route, secret: str) -> list[JSONDoc]:
    """The route's accepted sample and its siblings, decoded for mutation."""
    bodies = [route.valid(secret)] + [sample(*name) for name in EXTRA_SAMPLES.get(route.name, [])]
    if route.name == "sentry-envelope":
        bodies += [
            gzip.decompress(sample("sentry", "001-exception.envelope.gz")),
            sample("sentry", "003-event-with-fingerprint.envelope"),
        ]
        return [envelope_parts(b) for b in bodies]
    if route.name.startswith("pagerduty"):
        bodies += [
            sample("pagerduty", "002-resolve-from-alertmanager.json"),
            sample("pagerduty", "004-acknowledge.json"),
        ]
        return [{**json.loads(b), "routing_key": secret} for b in bodies]
    return [json.loads(b) for b in bodies]


def paths_in(doc: JSONDoc, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``doc`` (not the root itself)."""
    found: list[tuple[Any, ...]] = []
    children = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for key, value in children:
        found.append((*prefix, key))
        found.extend(paths_in(value, (*prefix, key)))
    return found


def mutate(doc: JSONDoc, path: tuple[Any, ...], replacement: JSONDoc, delete: bool) -> JSONDoc:
    """A copy of ``doc`` with the value at ``path`` replaced (or removed)."""
    copy = json.loads(json.dumps(doc))
    parent = copy
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    return copy


wrong_values: st.SearchStrategy[Any] = (
    json_scalars | st.just([]) | st.just({}) | st.just([None]) | st.just({"": {}}) | json_values
)


@st.composite
def shaped(draw: st.DrawFn, target: Target) -> tuple[Route, bytes]:
    route = draw(st.sampled_from([r for r in ROUTES if r.reads_body]))
    doc = draw(st.sampled_from(documents(route, target.credential(route).secret)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = paths_in(doc)
        if not paths:
            break
        doc = mutate(doc, draw(st.sampled_from(paths)), draw(wrong_values), draw(st.booleans()))
    body = envelope_of(doc) if route.name == "sentry-envelope" else json.dumps(doc).encode()
    return route, body


def test_samples_with_wrong_types_in_random_places_never_get_a_5xx_nor_store_garbage(tmp_path: Path) -> None:
    with open_bench(tmp_path) as bench:
        target = Target(bench)

        @settings(FUZZ, max_examples=1000)
        @given(st.data())
        def run(data: st.DataObject) -> None:
            route, body = data.draw(shaped(target))
            target.post(route, body)

        run()
        target.assert_everything_accepted_reads_back()
        # the mutations leave many documents valid: the accepting code paths were exercised too
        assert sum(n for status, n in target.statuses.items() if status < 300) > 50, target.statuses


# --- random values, random bytes, cut samples -----------------------------------------------------


def _with_routing_key(route: Route, target: Target, document: JSONDoc, keyed: bool) -> JSONDoc:
    """PagerDuty reads its credential from the body: give half the documents a real one."""
    if keyed and route.name.startswith("pagerduty") and isinstance(document, dict):
        return {**document, "routing_key": target.credential(route).secret}
    return document


def test_random_json_values_never_get_a_5xx_nor_store_anything_when_refused(tmp_path: Path) -> None:
    def send(target: Target, drawn: tuple[Route, JSONDoc, bool]) -> None:
        route, document, keyed = drawn
        document = _with_routing_key(route, target, document, keyed)
        target.post(route, route.frame(json.dumps(document).encode()))

    fuzz(tmp_path, 600, st.tuples(st.sampled_from(ROUTES), json_values, st.booleans()), send)


def _encoded(body: bytes, encoding: str | None, really: bool) -> bytes:
    """``body`` compressed as ``encoding`` says when ``really``, else sent as it is (and so corrupt)."""
    if not really or encoding in (None, "identity"):
        return body
    if encoding == "br":
        import brotli

        return bytes(brotli.compress(body))
    if encoding == "deflate":
        return zlib.compress(body)
    return gzip.compress(body)


def test_random_bytes_under_any_content_encoding_never_get_a_5xx_nor_store_anything(tmp_path: Path) -> None:
    def send(target: Target, drawn: tuple[Route, bytes, str | None, bool]) -> None:
        route, body, encoding, really = drawn
        target.post(route, _encoded(body, encoding, really), encoding)

    strategy = st.tuples(st.sampled_from(ROUTES), st.binary(max_size=3000), encodings, st.booleans())
    fuzz(tmp_path, 500, strategy, send)


SAMPLE_FILES = sorted(
    p for p in SAMPLES.rglob("*") if p.is_file() and not p.name.endswith((".expected.json", ".meta.json"))
)


def test_real_samples_cut_at_any_byte_and_sent_to_any_route_never_get_a_5xx(tmp_path: Path) -> None:
    def send(target: Target, drawn: tuple[Route, Path, float, bool]) -> None:
        route, path, fraction, keyed = drawn
        body = path.read_bytes()
        if path.suffix == ".gz":
            body = gzip.decompress(body)
        if keyed and route.name.startswith("pagerduty"):
            body = body.replace(b"0123456789abcdef0123456789abcdef", target.credential(route).secret.encode())
        target.post(route, body[: int(len(body) * fraction)])

    strategy = st.tuples(
        st.sampled_from(ROUTES),
        st.sampled_from(SAMPLE_FILES),
        st.floats(min_value=0.0, max_value=1.0),
        st.booleans(),
    )
    fuzz(tmp_path, 500, strategy, send)
