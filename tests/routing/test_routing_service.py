"""Saving routing configuration: every bad input refused at save time naming its field,
whole-list saves that keep ids (reorder) and delete what was left out, an audit entry each."""

from __future__ import annotations

from typing import Any

import pytest

from signalcraft.db.queries import audit
from signalcraft.db.queries import channels as cq
from signalcraft.db.queries import routing as rq
from signalcraft.errors import InvalidInput
from signalcraft.routing import service
from signalcraft.runtime import Parts
from tests.helpers import FakeClock, workspace

ACTOR = audit.Actor("ops@example.com", None, "127.0.0.1")


@pytest.fixture
def ws_id(parts: Parts, clock: FakeClock) -> int:
    return workspace(parts.ctx.db, "acme", clock()).id


def save(parts: Parts, fn: Any) -> Any:
    return parts.ctx.db.write(fn)


def rule(name: str, **doc: Any) -> dict[str, Any]:
    return {"name": name, "conditions": doc.get("conditions", {}), "actions": doc.get("actions", {})}


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        (
            [rule("ok"), rule("bad", conditions={"matchers": ['host=~"("']})],
            "rules[1].conditions.matchers[0]",
        ),
        ([rule("x", conditions={"severities": ["urgent"]})], "rules[0].conditions.severities"),
        ([rule("x", actions={"set_severity": "urgent"})], "rules[0].actions.set_severity"),
        (
            [
                rule(
                    "x", conditions={"window": {"start": "09:00", "end": "17:00", "timezone": "Mars/Olympus"}}
                )
            ],
            "rules[0].conditions.window.timezone",
        ),
        ([rule("x", actions={"notify": [999]})], "rules[0].actions.notify[0]"),
        ([{"conditions": {}}], "rules[0].name"),
        ([{**rule("x"), "id": 42}], "rules[0].id"),
    ],
)
def test_bad_rules_are_refused_naming_the_field_and_nothing_is_saved(
    parts: Parts, ws_id: int, clock: FakeClock, rules: list[dict[str, Any]], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        save(parts, lambda c: service.save_rules(c, ws_id, rules, ACTOR, clock()))
    assert caught.value.field == field
    assert parts.ctx.db.read(lambda c: rq.rules_of(c, ws_id)) == []


def test_saving_the_list_reorders_keeps_ids_and_deletes_the_left_out(
    parts: Parts, ws_id: int, clock: FakeClock
) -> None:
    channel = save(parts, lambda c: cq.create(c, ws_id, "webhook", "ops", {}, {}, clock())).id
    first = save(
        parts,
        lambda c: service.save_rules(
            c, ws_id, [rule("a", actions={"notify": [channel]}), rule("b"), rule("c")], ACTOR, clock()
        ),
    )
    a, b, c_ = (r.id for r in first)
    again = save(
        parts,
        lambda c: service.save_rules(
            c, ws_id, [{**rule("c"), "id": c_}, {**rule("a2"), "id": a}], ACTOR, clock()
        ),
    )
    assert [(r.id, r.name, r.position) for r in again] == [(c_, "c", 0), (a, "a2", 1)]
    assert b not in {r.id for r in parts.ctx.db.read(lambda c: rq.rules_of(c, ws_id))}
    entries = parts.ctx.db.read(lambda c: audit.entries(c, ws_id, action_prefix="routing."))
    assert [e.action for e in entries] == ["routing.rules_save", "routing.rules_save"]
    assert f"rule:{b}" in entries[0].detail["before"] and f"rule:{b}" not in entries[0].detail["after"]
    assert entries[0].actor == "ops@example.com"


def test_silences_windows_and_inhibit_rules_are_validated_and_audited(
    parts: Parts, ws_id: int, clock: FakeClock
) -> None:
    now = clock()
    cases: list[tuple[Any, str]] = [
        (
            lambda c: service.create_silence(c, ws_id, ['a=~"["'], now, now + 60, "", ACTOR, now),
            "matchers[0]",
        ),
        (lambda c: service.create_silence(c, ws_id, [], now, now + 60, "", ACTOR, now), "matchers"),
        (lambda c: service.create_silence(c, ws_id, ["a=b"], now, now - 1, "", ACTOR, now), "ends_at"),
        (
            lambda c: service.save_windows(
                c,
                ws_id,
                [
                    {
                        "name": "w",
                        "weekly": {
                            "weekdays": [6],
                            "start": "02:00",
                            "duration_minutes": 60,
                            "timezone": "Nowhere/X",
                        },
                    }
                ],
                ACTOR,
                now,
            ),
            "windows[0].weekly.timezone",
        ),
        (
            lambda c: service.save_windows(
                c,
                ws_id,
                [{"name": "w", "integrations": [77], "starts_at": now, "ends_at": now + 1}],
                ACTOR,
                now,
            ),
            "windows[0].integrations[0]",
        ),
        (
            lambda c: service.save_inhibit_rules(
                c, ws_id, [{"name": "i", "source_matchers": [], "target_matchers": ["a=b"]}], ACTOR, now
            ),
            "inhibit_rules[0].source_matchers",
        ),
        (lambda c: service.save_default(c, ws_id, {"notify": ["x"]}, ACTOR, now), "actions.notify"),
    ]
    for fn, field in cases:
        with pytest.raises(InvalidInput) as caught:
            save(parts, fn)
        assert caught.value.field == field
    silence = save(parts, lambda c: service.create_silence(c, ws_id, ["a=b"], now, now + 60, "x", ACTOR, now))
    save(parts, lambda c: service.expire_silence(c, ws_id, silence.id, ACTOR, now + 10))
    weekly = {"weekdays": [6], "start": "02:00", "duration_minutes": 120, "timezone": "Europe/Berlin"}
    save(parts, lambda c: service.save_windows(c, ws_id, [{"name": "Sunday", "weekly": weekly}], ACTOR, now))
    save(
        parts,
        lambda c: service.save_inhibit_rules(
            c,
            ws_id,
            [{"name": "i", "source_matchers": ["a=b"], "target_matchers": ["c=d"], "equal": ["x"]}],
            ACTOR,
            now,
        ),
    )
    expired = parts.ctx.db.read(lambda c: rq.silence(c, ws_id, silence.id))
    assert expired is not None and expired.ends_at == expired.expired_at == now + 10
    actions = [e.action for e in parts.ctx.db.read(lambda c: audit.entries(c, ws_id))]
    assert actions[:4] == ["inhibit.save", "maintenance.save", "silence.expire", "silence.create"]
