"""The dashboard's numbers on a small known dataset, sent through the real ingest routes at
times set with the FakeClock; and the charts' markup (escaped, no script, no style)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from signalcraft.auth.rbac import Role
from signalcraft.db.queries import stats
from signalcraft.runtime import Parts
from signalcraft.web import charts
from signalcraft.web.dashboard_pages import PERIODS, format_duration, frame_for, trend
from tests.helpers import FakeClock, Member, member

PAYLOADS = Path(__file__).parents[1] / "fixtures" / "payloads"
AM_FIRING = PAYLOADS / "alertmanager" / "001-firing-two-alerts-same-summary.json"


def at(day: int, hour: int, minute: int = 0, month: int = 1, year: int = 2027) -> float:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC).timestamp()


JSON = {"Content-Type": "application/json"}
BEFORE = "the 7 days before"
# Sunday 10 January 2027, 20:00 UTC: "last 7 days" is Monday 4 January 00:00 until now.
NOW = at(10, 20)


@pytest.fixture
def boss(parts: Parts, clock: FakeClock) -> Member:
    clock.t = NOW
    return member(parts.ctx.db, "boss@example.com", Role.OWNER, "acme", NOW)


def make(client: TestClient, who: Member, type_: str) -> dict[str, Any]:
    response = client.post("/api/v1/workspaces/acme/integrations",
                           json={"type": type_, "name": f"{type_} prod"}, headers={"X-CSRF-Token": who.csrf})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.fixture
def dataset(client: TestClient, boss: Member, clock: FakeClock) -> None:
    """Current week: 4 groups (2 outside working hours), 5 distinct alerts, 15 events in 12 requests.
    The week before: 1 group acknowledged after 10 min and resolved after 30 min."""
    client.cookies.set("sc_session", boss.session_token)
    pd_key = make(client, boss, "pagerduty")["credential"]["routing_key"]
    am_url = make(client, boss, "alertmanager")["ingest_url"].split("8080", 1)[1]

    def pd(when: float, action: str, key: str, severity: str = "critical") -> None:
        clock.t = when
        body = {"routing_key": pd_key, "event_action": action, "dedup_key": key,
                "payload": {"summary": f"{key} is unhappy", "source": "host-1", "severity": severity}}
        assert client.post("/v2/enqueue", json=body).status_code == 202

    # Monday 10:00, working hours: acknowledged after 5 min, resolved after 65 min; one repeat.
    pd(at(4, 10), "trigger", "db")
    pd(at(4, 10, 5), "acknowledge", "db")
    pd(at(4, 10, 30), "trigger", "db")
    pd(at(4, 11, 5), "resolve", "db")
    # Tuesday 03:00, outside: acknowledged after 15 min, resolved after 2 h.
    pd(at(5, 3), "trigger", "disk", "warning")
    pd(at(5, 3, 15), "acknowledge", "disk")
    pd(at(5, 5), "resolve", "disk")
    # Saturday 14:00, weekend: resolved after 10 min, never acknowledged.
    pd(at(9, 14), "trigger", "cpu", "error")
    pd(at(9, 14, 10), "resolve", "cpu")
    # Wednesday 09:00 (inside): Alertmanager sends the same two alerts three times.
    for minute in (0, 1, 2):
        clock.t = at(6, 9, minute)
        response = client.post(am_url, content=AM_FIRING.read_bytes(), headers=JSON)
        assert response.status_code == 200
    # The week before, Wednesday 30 December 12:00.
    pd(at(30, 12, month=12, year=2026), "trigger", "old")
    pd(at(30, 12, 10, month=12, year=2026), "acknowledge", "old")
    pd(at(30, 12, 30, month=12, year=2026), "resolve", "old")
    clock.t = NOW


def stat(html: str, key: str) -> str:
    found = re.search(rf'data-stat="{key}".*?<span class="stat-value" data-value>(.*?)</span>\s*'
                      r'<span class="stat-note">(.*?)</span>(?:\s*<span class="dash-hint">(.*?)</span>)?'
                      r'(?:\s*<span class="dash-trend ([\w-]+)">(.*?)</span>)?', html, re.S)
    assert found, key
    return " | ".join(g for g in found.groups() if g)


def test_dashboard_numbers_on_a_known_week(client: TestClient, dataset: None) -> None:
    page = client.get("/w/acme/dashboard?period=7d")
    assert page.status_code == 200
    html = page.text
    assert stat(html, "events") == "15 | in 12 requests"
    assert stat(html, "alerts") == "5 | in 4 alert groups"
    assert stat(html, "dedup") == "3.0 : 1 | 15 events for 5 distinct alerts"
    # nearest rank: median of (5 min, 15 min) is 5 min, p90 15 min; the week before: 10 min
    assert stat(html, "mtta") == "5 min | p90 15 min · 2 acknowledged | is-better | ▼ 50% vs " + BEFORE
    # (10 min, 65 min, 2 h): median 65 min, p90 2 h; the week before 30 min
    assert stat(html, "mttr") == "1 h 5 min | p90 2 h · 3 resolved | is-worse | ▲ 117% vs " + BEFORE
    # Tuesday 03:00 and Saturday 14:00; Monday 10:00 and Wednesday 09:00 are inside
    hours = "Working hours: 09:00\u201318:00 Mon\u2013Fri, UTC"
    assert stat(html, "after-hours") == f"2 | 50% of 4 pages | {hours} | is-worse | ▲ from 0 in {BEFORE}"


def test_dashboard_charts_and_noise_tables(client: TestClient, dataset: None) -> None:
    html = client.get("/w/acme/dashboard").text  # 7 days by default
    tooltips = re.findall(r"<g class=\"chart-bar\"><title>(.*?)</title>", html)
    assert tooltips == ["Mon 4 Jan: 1 critical", "Tue 5 Jan: 1 warning", "Wed 6 Jan: 2 critical",
                        "Sat 9 Jan: 1 error"]
    events = re.findall(r"<title>(\w{3} \d+ \w{3}: \d+ events)</title>", html)
    days = ["Mon 4 Jan", "Tue 5 Jan", "Wed 6 Jan", "Thu 7 Jan", "Fri 8 Jan", "Sat 9 Jan", "Sun 10 Jan"]
    assert events == [f"{day}: {n} events" for day, n in zip(days, (4, 3, 6, 0, 0, 2, 0), strict=True)]
    sources = re.search(r'data-table="sources">.*?</table>', html, re.S)
    assert sources
    rows = re.findall(r'<a class="cell-primary" [^>]*>(.*?)</a>.*?<td class="num">(.*?)</td>\s*'
                      r'<td class="num">(.*?)</td>', sources.group(0), re.S)
    assert rows == [("pagerduty prod", "9", "3"), ("alertmanager prod", "6", "2")]
    noisy = re.search(r'data-table="alerts">.*?</table>', html, re.S)
    assert noisy
    found = re.findall(r"</span> (.*?)</span>\s*<span class=\"cell-secondary\">(.*?)</span>.*?"
                       r"<td class=\"num\">(\d+)</td>\s*<td class=\"num hide-sm\">(\d+)</td>\s*"
                       r"<td class=\"num\">(\d+)</td>", noisy.group(0), re.S)
    # each paged once; then by events: Alertmanager's group got 6 events for 2 alerts
    assert found == [("Error rate above 5% on checkout", "alertmanager prod", "1", "2", "6"),
                     ("db is unhappy", "pagerduty prod", "1", "1", "4"),
                     ("disk is unhappy", "pagerduty prod", "1", "1", "3"),
                     ("cpu is unhappy", "pagerduty prod", "1", "1", "2")]


def test_a_shorter_period_and_a_bad_one(client: TestClient, dataset: None) -> None:
    day = client.get("/w/acme/dashboard?period=24h").text
    assert "No new alerts in this period" in day  # nothing since Saturday 21:00
    assert day.count('class="chart-label') >= 2 * 4  # hour labels under both charts
    month = client.get("/w/acme/dashboard?period=30d").text
    assert stat(month, "alerts").startswith("6 | in 5 alert groups")
    bad = client.get("/w/acme/dashboard?period=1y")
    assert bad.status_code == 400 and "24h, 7d, 30d" in bad.text


def test_pages_carry_no_script_and_no_style_attributes(client: TestClient, dataset: None) -> None:
    for period in PERIODS:
        html = client.get(f"/w/acme/dashboard?period={period}").text
        assert not re.search(r"\sstyle\s*=", html)
        assert "<style" not in html
        assert not re.search(r"<script(?![^>]*\ssrc=)", html)
        for svg in re.findall(r"<svg\b.*?</svg>", html, re.S):
            assert "<script" not in svg and "style=" not in svg


def test_an_empty_workspace_draws_empty_charts(client: TestClient, boss: Member) -> None:
    client.cookies.set("sc_session", boss.session_token)
    html = client.get("/w/acme/dashboard").text
    assert "No new alerts in this period" in html and "Nothing received in this period" in html
    assert stat(html, "dedup").startswith("— | 0 events for 0 distinct alerts")
    assert stat(html, "mtta").startswith("— |")


# ------------------------------------------------------------------ the pure parts


def test_chart_text_is_escaped() -> None:
    bar = charts.Bar('<script>alert(1)</script>"', (charts.Segment(3, "bar-critical", "<b>x</b>"),), "<i>")
    legend = [charts.Series("bar-critical", "<l>")]
    svg = str(charts.bar_chart([bar], caption="<c>", legend=legend, empty="-"))
    assert "<script" not in svg and "<b>" not in svg and "<i>" not in svg and "<c>" not in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34;" in svg


@pytest.mark.parametrize(("highest", "scale"), [(0, (4, 1)), (1, (4, 1)), (5, (8, 2)), (9, (12, 3)),
                                               (41, (60, 15)), (100, (100, 25)), (1234, (2000, 500))])
def test_value_axis_uses_round_steps(highest: int, scale: tuple[int, int]) -> None:
    top, step = charts.nice_scale(highest)
    assert top >= highest and top == 4 * step
    assert (top, step) == scale or step in (1, 2, 5, 10, 20, 50, 100, 200, 500)


@pytest.mark.parametrize(("seconds", "text"), [(None, "—"), (42, "42 s"), (300, "5 min"), (3900, "1 h 5 min"),
                                                (7200, "2 h"), (90000, "1 d 1 h"), (172800, "2 d")])
def test_durations_read_naturally(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


def test_trend_says_which_way_is_better() -> None:
    assert trend(None, 5, "x").css == "is-none"
    assert trend(5, 5, "x").text == "same as x"
    assert (trend(15, 10, "x").text, trend(15, 10, "x").css) == ("▲ 50% vs x", "is-worse")
    assert (trend(5, 10, "x").text, trend(5, 10, "x").css) == ("▼ 50% vs x", "is-better")


def test_frames_are_whole_utc_hours_and_days_and_the_previous_one_is_as_long() -> None:
    frame = frame_for(PERIODS["24h"], at(10, 20, 30))
    assert frame.current == stats.Window(at(9, 21), at(10, 20, 30))
    assert frame.previous == stats.Window(at(8, 21), at(9, 20, 30))
    assert len(frame.bucket_starts) == 24 and frame.bucket_starts[-1] == at(10, 20)
    week = frame_for(PERIODS["7d"], NOW)
    assert week.current.start == at(4, 0) and week.bucket_starts[-1] == at(10, 0)


def test_every_stats_query_reaches_its_rows_through_an_index(parts: Parts) -> None:
    window, plans = stats.Window(0.0, 1.0), []

    def capture(conn: Any) -> None:
        original = conn.execute

        class Explaining:
            def execute(self, sql: str, params: Any = ()) -> Any:
                plans.append((sql, [row[3] for row in original("EXPLAIN QUERY PLAN " + sql, params)]))
                return original(sql, params)

        proxy: Any = Explaining()
        stats.alerts_by_bucket(proxy, 1, window, 3600)
        stats.ingest_by_bucket(proxy, 1, window, 3600)
        stats.noisy_alerts(proxy, 1, window)
        stats.group_stats(proxy, 1, window)

    parts.ctx.db.read(capture)
    # the rollups' progress (2), new alerts, requests, noisy titles (no second step: none found),
    # group figures (2)
    assert len(plans) == 7
    for sql, plan in plans:
        for step in plan:
            for table in ("alerts", "alert_groups", "ingest_log", "alert_rollups", "ingest_rollups"):
                assert not re.fullmatch(rf"SCAN {table}( AS \w+)?", step), (sql, plan)
