"""Each wire format through HTTP, answered as the original tool answers, with dedup,
grouping and resolve behaviour checked on what was stored."""

from __future__ import annotations

import gzip
import json

from litestar.testing import TestClient

from tests.helpers import FakeClock
from tests.ingest_http.conftest import Make, group_detail, groups, sample

JSON = {"Content-Type": "application/json"}


def path_of(url: str) -> str:
    return url.split("8080", 1)[1]


def test_alertmanager_webhook_dedups_by_fingerprint_and_resolves_the_group(
    api: TestClient, make_integration: Make
) -> None:
    url = path_of(make_integration("alertmanager")["ingest_url"])
    firing = sample("alertmanager", "001-firing-two-alerts-same-summary.json")
    assert api.post(url, content=firing, headers=JSON).status_code == 200
    assert api.post(url, content=firing, headers=JSON).status_code == 200
    (group,) = groups(api)
    # two alerts with the same summary stay two alerts; the resend is counted, not duplicated
    assert (group["alert_count"], group["event_count"], group["status"]) == (2, 4, "triggered")
    detail = group_detail(api, group["id"])
    assert len({a["fingerprint"] for a in detail["alerts"]}) == 2
    assert all(a["event_count"] == 2 for a in detail["alerts"])
    assert (
        api.post(url, content=sample("alertmanager", "002-resolved-group.json"), headers=JSON).status_code
        == 200
    )
    (group,) = groups(api)
    assert group["status"] == "resolved" and group["firing_count"] == 0
    kinds = [e["kind"] for e in group_detail(api, group["id"])["timeline"]]
    assert kinds[0] == "created" and kinds.count("resolved") == 2 and kinds[-1] == "group_resolved"


def test_a_retrigger_within_the_window_reopens_and_after_it_starts_a_new_group(
    api: TestClient, make_integration: Make, clock: FakeClock, parts
) -> None:  # type: ignore[no-untyped-def]
    url = path_of(make_integration("alertmanager")["ingest_url"])
    firing = sample("alertmanager", "001-firing-two-alerts-same-summary.json")
    resolved = sample("alertmanager", "002-resolved-group.json")
    api.post(url, content=firing, headers=JSON)
    api.post(url, content=resolved, headers=JSON)
    clock.advance(60)
    api.post(url, content=firing, headers=JSON)
    (group,) = groups(api)
    assert group["status"] == "triggered" and group["alert_count"] == 4
    assert "reopened" in [e["kind"] for e in group_detail(api, group["id"])["timeline"]]
    api.post(url, content=resolved, headers=JSON)
    clock.advance(parts.ctx.settings.ingest.group_window_minutes * 60 + 1)
    api.post(url, content=firing, headers=JSON)
    found = groups(api)
    assert [g["status"] for g in found] == ["triggered", "resolved"]


def test_prometheus_api_v2_by_path_prefix_and_by_bearer_token(
    api: TestClient, make_integration: Make
) -> None:
    created = make_integration("prometheus")
    token = created["credential"]["token"]
    body = sample("prometheus", "001-firing-and-resolved.json")
    assert api.post(path_of(created["ingest_url"]), content=body, headers=JSON).status_code == 200
    assert (
        api.post(
            "/api/v2/alerts", content=body, headers={**JSON, "Authorization": f"Bearer {token}"}
        ).status_code
        == 200
    )
    assert (
        api.post("/api/v2/alerts", content=body, headers={**JSON, "Authorization": "Bearer nope"}).status_code
        == 401
    )
    found = groups(api)
    assert found and sum(g["event_count"] for g in found) >= 2


def test_pagerduty_trigger_acknowledge_resolve_with_pagerduty_replies(
    api: TestClient, make_integration: Make
) -> None:
    key = make_integration("pagerduty")["credential"]["routing_key"]
    trigger = {
        "routing_key": key,
        "event_action": "trigger",
        "payload": {"summary": "Disk full on db1", "source": "db1", "severity": "critical"},
    }
    reply = api.post("/v2/enqueue", json=trigger)
    assert reply.status_code == 202
    body = reply.json()
    assert body["status"] == "success" and body["message"] == "Event processed" and body["dedup_key"]
    dedup = body["dedup_key"]
    again = api.post("/v2/enqueue", json={**trigger, "dedup_key": dedup})
    assert again.json()["dedup_key"] == dedup
    (group,) = groups(api)
    assert group["severity"] == "critical" and group["event_count"] == 2
    ack = api.post(
        "/v2/enqueue", json={"routing_key": key, "event_action": "acknowledge", "dedup_key": dedup}
    )
    assert ack.status_code == 202
    assert groups(api)[0]["status"] == "acknowledged"
    api.post("/v2/enqueue", json={"routing_key": key, "event_action": "resolve", "dedup_key": dedup})
    (group,) = groups(api)
    assert group["status"] == "resolved" and group["title"] == "Disk full on db1"


def test_pagerduty_errors_use_pagerduty_shape(api: TestClient, make_integration: Make) -> None:
    key = make_integration("pagerduty")["credential"]["routing_key"]
    bad = api.post("/v2/enqueue", json={"routing_key": key, "event_action": "acknowledge"})
    assert bad.status_code == 400
    assert bad.json()["status"] == "invalid event" and bad.json()["message"] == "Event object is invalid"
    assert any("dedup_key" in e for e in bad.json()["errors"])
    unknown = api.post("/v2/enqueue", json={"routing_key": "0" * 32, "event_action": "trigger"})
    assert unknown.status_code == 401


def test_pagerduty_change_events_are_stored_as_deploys(
    api: TestClient, make_integration: Make, parts
) -> None:  # type: ignore[no-untyped-def]
    key = make_integration("pagerduty")["credential"]["routing_key"]
    body = json.loads(sample("pagerduty", "005-change-event.json"))
    body["routing_key"] = key
    reply = api.post("/v2/change/enqueue", json=body)
    assert reply.status_code == 202 and reply.json()["status"] == "success"
    from signalcraft.db.queries import alerts as aq

    stored = parts.ctx.db.read(lambda c: aq.deploys(c, 1))
    assert len(stored) == 1 and stored[0][2] == body["payload"]["summary"]


def test_pagerduty_routing_key_is_not_kept_in_the_raw_payload(
    api: TestClient, make_integration: Make
) -> None:
    key = make_integration("pagerduty")["credential"]["routing_key"]
    api.post(
        "/v2/enqueue",
        json={
            "routing_key": key,
            "event_action": "trigger",
            "payload": {"summary": "x", "source": "y", "severity": "info"},
        },
    )
    alert = group_detail(api, groups(api)[0]["id"])["alerts"][0]
    raw = api.get(f"/api/v1/workspaces/acme/raw-payloads/{alert['raw_id']}")
    assert raw.status_code == 200 and key not in raw.text and "[routing_key]" in raw.text


def test_opsgenie_create_close_by_alias_and_request_status(api: TestClient, make_integration: Make) -> None:
    key = make_integration("opsgenie")["credential"]["genie_key"]
    auth = {**JSON, "Authorization": f"GenieKey {key}"}
    created = api.post(
        "/v2/alerts", content=sample("opsgenie", "001-create-from-alertmanager.json"), headers=auth
    )
    assert created.status_code == 202
    body = created.json()
    assert body["result"] == "Request will be processed" and body["requestId"] and "took" in body
    alias = json.loads(sample("opsgenie", "001-create-from-alertmanager.json"))["alias"]
    status = api.get(f"/v2/alerts/requests/{body['requestId']}", headers=auth)
    assert status.status_code == 200 and status.json()["data"]["isSuccess"] is True
    close = api.post(
        f"/v2/alerts/{alias}/close?identifierType=alias",
        content=sample("opsgenie", "002-close-by-alias-from-alertmanager.json"),
        headers=auth,
    )
    assert close.status_code == 202
    (group,) = groups(api)
    assert group["status"] == "resolved"
    assert (
        api.post("/v2/alerts", content=b"{}", headers={**JSON, "Authorization": "GenieKey wrong"}).status_code
        == 401
    )


def test_opsgenie_acknowledge_by_id(api: TestClient, make_integration: Make) -> None:
    key = make_integration("opsgenie")["credential"]["genie_key"]
    auth = {**JSON, "Authorization": f"GenieKey {key}"}
    api.post("/v2/alerts", json={"message": "Queue backlog", "alias": "q-1"}, headers=auth)
    alert_id = group_detail(api, groups(api)[0]["id"])["alerts"][0]["id"]
    assert (
        api.post(f"/v2/alerts/{alert_id}/acknowledge", json={"user": "ada"}, headers=auth).status_code == 202
    )
    assert groups(api)[0]["status"] == "acknowledged"


def test_opsgenie_heartbeat_ping_is_recorded(api: TestClient, make_integration: Make, parts) -> None:  # type: ignore[no-untyped-def]
    key = make_integration("opsgenie")["credential"]["genie_key"]
    for method in ("GET", "POST"):
        reply = api.request(
            method, "/v2/heartbeats/nightly-backup/ping", headers={"Authorization": f"GenieKey {key}"}
        )
        assert reply.status_code == 202
    from signalcraft.db.connection import scalar

    assert (
        parts.ctx.db.read(
            lambda c: scalar(c, "SELECT ping_count FROM heartbeat_pings WHERE name = ?", ("nightly-backup",))
        )
        == 2
    )


def test_sentry_envelope_gzip_from_the_sdk_becomes_an_alert_with_its_stack_trace(
    api: TestClient, make_integration: Make
) -> None:
    created = make_integration("sentry")
    dsn = created["credential"]["dsn"]
    key, project = dsn.split("//", 1)[1].split("@")[0], dsn.rsplit("/", 1)[1]
    body = gzip.compress(sample("sentry", "002-message.envelope"))
    body_exc = sample("sentry", "001-exception.envelope.gz")
    headers = {
        "Content-Type": "application/x-sentry-envelope",
        "Content-Encoding": "gzip",
        "X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7, sentry_client=sentry.python/2.75.0",
    }
    for payload in (body_exc, body_exc, body):
        reply = api.post(f"/api/{project}/envelope/", content=payload, headers=headers)
        assert reply.status_code == 200 and reply.json()["id"]
    found = groups(api)
    assert len(found) == 2
    exc_group = next(g for g in found if "ZeroDivisionError" in g["title"])
    assert exc_group["event_count"] == 2
    alert = group_detail(api, exc_group["id"])["alerts"][0]
    assert alert["stacktrace"]["exception_type"] == "ZeroDivisionError" and alert["stacktrace"]["frames"]


def test_sentry_refuses_a_wrong_key_or_project(api: TestClient, make_integration: Make) -> None:
    created = make_integration("sentry")
    project = created["credential"]["dsn"].rsplit("/", 1)[1]
    body = sample("sentry", "002-message.envelope")
    bad_key = api.post(
        f"/api/{project}/envelope/", content=body, headers={"X-Sentry-Auth": "Sentry sentry_key=nope"}
    )
    assert bad_key.status_code == 401 and "detail" in bad_key.json()
    key = created["credential"]["dsn"].split("//", 1)[1].split("@")[0]
    wrong_project = api.post(f"/api/{int(project) + 99}/envelope/?sentry_key={key}", content=body)
    assert wrong_project.status_code == 401


def test_sentry_integration_webhook_needs_a_valid_signature(api: TestClient, make_integration: Make) -> None:
    import hashlib
    import hmac

    created = make_integration("sentry", client_secret="s3cret")
    # Sentry's integration platform posts to the token URL; the DSN key is that token
    hook_url = f"/ingest/{created['credential']['dsn'].split('//', 1)[1].split('@')[0]}"
    body = sample("sentry", "006-issue-resolved-webhook.json")
    signature = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    headers = {**JSON, "Sentry-Hook-Resource": "issue", "Sentry-Hook-Timestamp": "1700000000"}
    assert (
        api.post(hook_url, content=body, headers={**headers, "Sentry-Hook-Signature": "0" * 64}).status_code
        == 401
    )
    assert (
        api.post(hook_url, content=body, headers={**headers, "Sentry-Hook-Signature": signature}).status_code
        == 200
    )


def test_grafana_and_datadog_webhooks(api: TestClient, make_integration: Make) -> None:
    grafana = path_of(make_integration("grafana")["ingest_url"])
    assert (
        api.post(grafana, content=sample("grafana", "001-firing-with-values.json"), headers=JSON).status_code
        == 200
    )
    datadog = path_of(make_integration("datadog")["ingest_url"])
    assert api.post(datadog, content=sample("datadog", "001-triggered.json"), headers=JSON).status_code == 200
    assert (
        api.post(
            datadog, content=sample("datadog", "002-recovered-no-priority.json"), headers=JSON
        ).status_code
        == 200
    )
    sources = {g["source"]: g for g in groups(api)}
    assert set(sources) == {"grafana", "datadog"}


def test_generic_webhook_uses_its_field_mapping(api: TestClient, make_integration: Make) -> None:
    mapping = {
        "title": "check.name",
        "severity": "check.level",
        "dedup_key": "check.id",
        "status": "state",
        "labels": "tags",
    }
    url = path_of(make_integration("webhook", mapping=mapping)["ingest_url"])
    body = {
        "check": {"name": "API latency", "level": "critical", "id": "c-1"},
        "state": "alerting",
        "tags": {"team": "api"},
    }
    assert api.post(url, json=body).status_code == 200
    assert api.post(url, json={**body, "state": "resolved"}).status_code == 200
    (group,) = groups(api)
    assert (
        group["title"] == "API latency" and group["status"] == "resolved" and group["severity"] == "critical"
    )


def test_a_webhook_mapping_is_checked_at_save_time_and_previewable(api: TestClient) -> None:
    bad = api.post(
        "/api/v1/workspaces/acme/integrations",
        json={"type": "webhook", "name": "w", "settings": {"mapping": {"title": "a..b"}}},
    )
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "settings.mapping"
    preview = api.post(
        "/api/v1/workspaces/acme/integrations/preview",
        json={"mapping": {"title": "msg", "severity": "sev"}, "sample": {"msg": "Hi", "sev": "error"}},
    )
    assert preview.status_code == 200 and preview.json()[0]["title"] == "Hi"


def test_full_text_search_finds_groups_by_label_and_title(api: TestClient, make_integration: Make) -> None:
    url = path_of(make_integration("alertmanager")["ingest_url"])
    api.post(url, content=sample("alertmanager", "001-firing-two-alerts-same-summary.json"), headers=JSON)
    first = groups(api)[0]
    alert = group_detail(api, first["id"])["alerts"][0]
    label_value = next(iter(alert["labels"].values()))
    assert [g["id"] for g in groups(api, q=label_value)] == [first["id"]]
    assert groups(api, q="no-such-words-anywhere") == []
    assert groups(api, q='"unbalanced ( AND OR') == []  # user text is never FTS syntax


def test_cursor_pagination_walks_every_group_once(
    api: TestClient, make_integration: Make, clock: FakeClock
) -> None:
    key = make_integration("pagerduty")["credential"]["routing_key"]
    for n in range(7):
        clock.advance(1)
        api.post(
            "/v2/enqueue",
            json={
                "routing_key": key,
                "event_action": "trigger",
                "dedup_key": f"k{n}",
                "payload": {"summary": f"alert {n}", "source": "s", "severity": "info"},
            },
        )
    seen, cursor = [], ""
    while True:
        page = api.get("/api/v1/workspaces/acme/alert-groups", params={"limit": 3, "cursor": cursor}).json()
        seen += [g["title"] for g in page["groups"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"alert {n}" for n in reversed(range(7))]


def test_the_sentry_key_is_not_kept_in_the_raw_payload(api: TestClient, make_integration: Make) -> None:
    created = make_integration("sentry")
    dsn = created["credential"]["dsn"]
    key, project = dsn.split("//", 1)[1].split("@")[0], dsn.rsplit("/", 1)[1]
    envelope = sample("sentry", "002-message.envelope").replace(
        b"abcdef0123456789abcdef0123456789", key.encode()
    )
    assert key.encode() in envelope
    reply = api.post(
        f"/api/{project}/envelope/", content=envelope, headers={"X-Sentry-Auth": f"Sentry sentry_key={key}"}
    )
    assert reply.status_code == 200
    alert = group_detail(api, groups(api)[0]["id"])["alerts"][0]
    raw = api.get(f"/api/v1/workspaces/acme/raw-payloads/{alert['raw_id']}")
    assert raw.status_code == 200 and key not in raw.text and "[sentry_key]" in raw.text


def test_an_api_v2_alert_resolves_when_its_ends_at_passes_without_a_resend(
    api: TestClient, make_integration: Make, clock: FakeClock, parts
) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt

    created = make_integration("prometheus")

    def at(offset: float) -> str:
        return dt.datetime.fromtimestamp(clock() + offset, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    alert = [{"labels": {"alertname": "RuleDeleted", "job": "x"}, "startsAt": at(-60), "endsAt": at(240)}]
    assert api.post(path_of(created["ingest_url"]), json=alert).status_code == 200
    expire = parts.ctx.extras["tasks"]["expire_alerts"]
    clock.advance(200)
    assert expire.call_local() == 0 and groups(api)[0]["status"] == "triggered"
    clock.advance(60)  # past endsAt, and Prometheus sent nothing more
    assert expire.call_local() == 1
    (group,) = groups(api)
    assert group["status"] == "resolved"
