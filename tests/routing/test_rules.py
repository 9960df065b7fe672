"""Routing rules, matchers, silences, inhibition and maintenance windows, as tables."""

from __future__ import annotations

import datetime as dt

import pytest

from signalcraft.routing.matchers import Matcher, MatcherError
from signalcraft.routing.rules import Actions, AlertFacts, RuleError, evaluate, rule_from
from signalcraft.routing.suppression import InhibitRule, MaintenanceWindow, Silence, Weekly, suppression_for

UTC = dt.UTC


def facts(**labels: str) -> AlertFacts:
    return AlertFacts(
        integration_id=1,
        source="alertmanager",
        severity=labels.pop("severity", "warning"),
        title=labels.pop("title", "Disk almost full"),
        labels=labels,
    )


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ('team="db"', {"team": "db"}, True),
        ("team=db", {"team": "web"}, False),
        ("team!=db", {"team": "web"}, True),
        ("team!=db", {}, True),
        ('severity=~"critical|error"', {"severity": "error"}, True),
        ('severity=~"crit"', {"severity": "critical"}, False),  # anchored, like Alertmanager
        ("env!~prod.*", {"env": "production"}, False),
        ("env=", {}, True),  # a missing label is the empty string
    ],
)
def test_matchers(text: str, labels: dict[str, str], expected: bool) -> None:
    assert Matcher.parse(text).matches(labels) is expected


@pytest.mark.parametrize("text", ["team", "=db", 'x=~"("', "bad name=1", "a=~" + "x" * 1001])
def test_bad_matchers_are_refused_with_a_reason(text: str) -> None:
    with pytest.raises(MatcherError):
        Matcher.parse(text)


def rule(rule_id: int, doc: dict) -> object:  # type: ignore[type-arg]
    return rule_from({"name": f"r{rule_id}", **doc}, f"rules[{rule_id}]", rule_id)


def test_first_matching_rule_wins_unless_it_continues() -> None:
    rules = [
        rule(1, {"conditions": {"matchers": ["team=db"]}, "actions": {"notify": [10], "continue": True}}),
        rule(2, {"conditions": {"severities": ["warning"]}, "actions": {"notify": [20]}}),
        rule(3, {"conditions": {}, "actions": {"notify": [30]}}),
    ]
    decision = evaluate(
        rules, facts(team="db"), dt.datetime(2026, 1, 5, 12, tzinfo=UTC), Actions(notify=(99,))
    )
    assert decision.matched == [1, 2] and decision.notify == [10, 20] and not decision.used_default


def test_the_default_route_applies_when_nothing_pages() -> None:
    rules = [rule(1, {"conditions": {"matchers": ["team=web"]}, "actions": {"notify": [10]}})]
    decision = evaluate(rules, facts(team="db"), dt.datetime(2026, 1, 5, tzinfo=UTC), Actions(notify=(99,)))
    assert decision.used_default and decision.notify == [99]


def test_drop_keeps_the_alert_but_pages_nobody() -> None:
    rules = [rule(1, {"conditions": {"title_contains": "disk"}, "actions": {"drop": True}})]
    decision = evaluate(rules, facts(), dt.datetime(2026, 1, 5, tzinfo=UTC), Actions(notify=(99,)))
    assert decision.dropped and not decision.pages_someone and not decision.used_default


def test_set_severity_and_labels_are_seen_by_later_rules() -> None:
    rules = [
        rule(
            1,
            {
                "conditions": {"matchers": ["team=db"]},
                "actions": {"set_severity": "critical", "add_labels": {"owner": "dba"}, "continue": True},
            },
        ),
        rule(
            2,
            {
                "conditions": {"severities": ["critical"], "matchers": ["owner=dba"]},
                "actions": {"escalation_policy": 7},
            },
        ),
    ]
    decision = evaluate(rules, facts(team="db"), dt.datetime(2026, 1, 5, tzinfo=UTC), Actions())
    assert decision.severity == "critical" and decision.labels["owner"] == "dba"
    assert decision.escalation_policies == [7]


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (dt.datetime(2026, 1, 5, 7, 59, tzinfo=UTC), False),  # Monday 08:59 CET
        (dt.datetime(2026, 1, 5, 8, 0, tzinfo=UTC), True),  # Monday 09:00 CET
        (dt.datetime(2026, 1, 5, 16, 59, tzinfo=UTC), True),  # Monday 17:59 CET
        (dt.datetime(2026, 1, 5, 17, 0, tzinfo=UTC), False),  # Monday 18:00 CET
        (dt.datetime(2026, 1, 10, 12, 0, tzinfo=UTC), False),  # Saturday
        (dt.datetime(2026, 7, 6, 6, 59, tzinfo=UTC), False),  # Monday 08:59 CEST (summer time)
        (dt.datetime(2026, 7, 6, 7, 0, tzinfo=UTC), True),  # Monday 09:00 CEST
    ],
)
def test_time_windows_are_in_the_rule_timezone_across_dst(moment: dt.datetime, expected: bool) -> None:
    r = rule(
        1,
        {
            "conditions": {
                "window": {
                    "weekdays": [0, 1, 2, 3, 4],
                    "start": "09:00",
                    "end": "18:00",
                    "timezone": "Europe/Berlin",
                }
            },
            "actions": {"notify": [1]},
        },
    )
    assert (evaluate([r], facts(), moment, Actions()).matched == [1]) is expected  # type: ignore[list-item]


def test_an_overnight_window_belongs_to_the_day_it_starts() -> None:
    r = rule(
        1,
        {
            "conditions": {"window": {"weekdays": [4], "start": "22:00", "end": "06:00"}},
            "actions": {"notify": [1]},
        },
    )
    friday_night = dt.datetime(2026, 1, 9, 23, tzinfo=UTC)
    saturday_early = dt.datetime(2026, 1, 10, 5, tzinfo=UTC)
    saturday_night = dt.datetime(2026, 1, 10, 23, tzinfo=UTC)
    assert [
        evaluate([r], facts(), m, Actions()).matched for m in (friday_night, saturday_early, saturday_night)
    ] == [[1], [1], []]  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"name": ""}, "rules[0].name"),
        ({"name": "x", "conditions": {"matchers": ['a=~"("']}}, "rules[0].conditions.matchers[0]"),
        ({"name": "x", "conditions": {"severities": ["urgent"]}}, "rules[0].conditions.severities"),
        (
            {"name": "x", "conditions": {"window": {"start": "9", "end": "10:00"}}},
            "rules[0].conditions.window.start",
        ),
        (
            {
                "name": "x",
                "conditions": {"window": {"start": "09:00", "end": "10:00", "timezone": "Mars/Olympus"}},
            },
            "rules[0].conditions.window.timezone",
        ),
        ({"name": "x", "actions": {"notify": "slack"}}, "rules[0].actions.notify"),
        ({"name": "x", "actions": {"bogus": 1}}, "rules[0].actions"),
    ],
)
def test_bad_rules_are_refused_at_save_time_naming_the_field(doc: dict, field: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(RuleError) as info:
        rule_from(doc, "rules[0]")
    assert info.value.field == field


def test_silences_mute_matching_alerts_only_while_active() -> None:
    silence = Silence(1, (Matcher.parse("team=db"),), starts_at=100, ends_at=200)
    assert suppression_for(1, {"team": "db"}, 150, silences=[silence]).reason == "silence"  # type: ignore[union-attr]
    assert suppression_for(1, {"team": "db"}, 250, silences=[silence]) is None
    assert suppression_for(1, {"team": "web"}, 150, silences=[silence]) is None


def test_inhibition_needs_a_firing_source_with_equal_labels() -> None:
    rule_ = InhibitRule(
        1,
        source=(Matcher.parse("alertname=NodeDown"),),
        target=(Matcher.parse("severity=warning"),),
        equal=("instance",),
    )
    target = {"alertname": "HighLatency", "severity": "warning", "instance": "a"}
    assert (
        suppression_for(
            1, target, 0, inhibit_rules=[rule_], firing=[{"alertname": "NodeDown", "instance": "a"}]
        )
        is not None
    )
    assert (
        suppression_for(
            1, target, 0, inhibit_rules=[rule_], firing=[{"alertname": "NodeDown", "instance": "b"}]
        )
        is None
    )
    assert suppression_for(1, target, 0, inhibit_rules=[rule_], firing=[target]) is None


def test_weekly_maintenance_follows_wall_clock_time_across_dst() -> None:
    window = MaintenanceWindow(
        1, weekly=Weekly(frozenset({6}), dt.time(2, 0), dt.timedelta(hours=2), "Europe/Berlin")
    )
    berlin = dt.timezone(dt.timedelta(hours=1))
    winter = dt.datetime(2026, 1, 11, 2, 30, tzinfo=berlin).timestamp()  # Sunday 02:30 CET
    summer = dt.datetime(2026, 7, 12, 2, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))).timestamp()
    assert window.covers(1, {}, winter) and window.covers(1, {}, summer)
    assert not window.covers(1, {}, winter + 2 * 3600)


def test_maintenance_can_be_limited_to_integrations_and_labels() -> None:
    window = MaintenanceWindow(
        1, integrations=(5,), matchers=(Matcher.parse("env=staging"),), starts_at=0, ends_at=100
    )
    assert window.covers(5, {"env": "staging"}, 50)
    assert not window.covers(6, {"env": "staging"}, 50)
    assert not window.covers(5, {"env": "prod"}, 50)
