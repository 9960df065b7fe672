"""The escalation pages: a policy is created and edited from the form (errors next to the field),
deleting asks first, and "My notifications" adds a contact method, sends it a real test, and
saves rules per urgency."""

from __future__ import annotations

import re
from collections.abc import Iterator

import orjson
import pytest
from litestar.testing import TestClient

from signalcraft.auth.rbac import Role
from signalcraft.db.queries import channels as cq
from signalcraft.db.queries import escalation as eq
from signalcraft.notify.deliver import Notifier
from signalcraft.runtime import Parts
from tests.conftest import signed_in
from tests.helpers import FakeClock, Member, hidden_csrf, member
from tests.notify.test_channels import Receiver, notifying, receiving

BASE = "/w/acme"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from receiving()


@pytest.fixture
def notifier(parts: Parts) -> Iterator[Notifier]:
    yield from notifying(parts)


def test_a_policy_is_created_from_the_form_with_errors_next_to_the_field_and_deleting_asks_first(
    client: TestClient, owner: Member, parts: Parts
) -> None:
    signed_in(client, owner)
    form = client.get(f"{BASE}/escalation/new")
    assert form.status_code == 200 and f"user:{owner.user.id}" in form.text
    csrf = hidden_csrf(form.text)
    data = {
        "_csrf": csrf,
        "name": "Primary",
        "step0_targets": f"user:{owner.user.id}",
        "step0_wait": "1441",
        "repeat": "1",
    }
    bad = client.post(f"{BASE}/escalation", data=data)
    assert bad.status_code == 400
    assert 'id="step0-wait"' in bad.text and "between 0 and 1440" in bad.text
    saved = client.post(f"{BASE}/escalation", data={**data, "step0_wait": "15"}, follow_redirects=False)
    assert saved.status_code == 303
    (policy,) = parts.ctx.db.read(lambda c: eq.policies_of(c, owner.workspace.id))
    assert policy.doc == {
        "steps": [{"targets": [{"kind": "user", "id": owner.user.id}], "wait_minutes": 15}],
        "repeat": 1,
    }
    listing = client.get(f"{BASE}/escalation")
    assert "Primary" in listing.text and 'data-confirm="Delete the escalation policy' in listing.text
    edit = client.get(f"{BASE}/escalation/{policy.id}")
    assert f'value="user:{owner.user.id}" selected' in edit.text
    gone = client.post(f"{BASE}/escalation/{policy.id}/delete", data={"_csrf": csrf}, follow_redirects=False)
    assert gone.status_code == 303
    assert parts.ctx.db.read(lambda c: eq.policies_of(c, owner.workspace.id)) == []


def test_errors_are_shown_under_their_field_without_the_api_field_path(
    client: TestClient, owner: Member, parts: Parts
) -> None:
    signed_in(client, owner)
    csrf = hidden_csrf(client.get(f"{BASE}/escalation/new").text)
    target = f"user:{owner.user.id}"
    bad_wait = client.post(f"{BASE}/escalation", data={"_csrf": csrf, "name": "A", "step0_targets": target,
                                                       "step0_wait": "soon"})
    assert bad_wait.status_code == 400
    assert '<p class="field-error" id="steps-0-wait_minutes-error">whole minutes</p>' in bad_wait.text
    wait_input = re.search(r'<input id="step0-wait"[^>]*>', bad_wait.text)
    assert wait_input, "no wait field"
    assert 'aria-invalid="true" aria-errormessage="steps-0-wait_minutes-error"' in wait_input[0]
    assert 'id="step0-targets" name="step0_targets" multiple size="4">' in bad_wait.text  # only the wait
    client.post(f"{BASE}/escalation", data={"_csrf": csrf, "name": "A", "step0_targets": target,
                                            "step0_wait": "5"})
    (a,) = parts.ctx.db.read(lambda c: eq.policies_of(c, owner.workspace.id))
    client.post(f"{BASE}/escalation", data={"_csrf": csrf, "name": "B", "step0_targets": f"policy:{a.id}",
                                            "step0_wait": "0"})
    b = next(p for p in parts.ctx.db.read(lambda c: eq.policies_of(c, owner.workspace.id)) if p.name == "B")
    steps = {"step0_targets": target, "step0_wait": "5", "step1_targets": f"policy:{b.id}", "step1_wait": "0"}
    loop = client.post(f"{BASE}/escalation/{a.id}", data={"_csrf": csrf, "name": "A", **steps})
    assert loop.status_code == 400
    assert '<p class="field-error" id="steps-error">escalation loop: A -&gt; B -&gt; A</p>' in loop.text


def test_the_list_shows_each_wait_and_a_viewer_sees_the_policy_without_a_form(
    client: TestClient, owner: Member, parts: Parts, clock: FakeClock
) -> None:
    signed_in(client, owner)
    csrf = hidden_csrf(client.get(f"{BASE}/escalation/new").text)
    client.post(f"{BASE}/escalation", data={"_csrf": csrf, "name": "Primary", "step0_targets":
                                            f"user:{owner.user.id}", "step0_wait": "15", "step1_targets":
                                            f"user:{owner.user.id}", "step1_wait": "0"})
    assert "Person: owner, wait 15 min → Person: owner<" in client.get(f"{BASE}/escalation").text
    (policy,) = parts.ctx.db.read(lambda c: eq.policies_of(c, owner.workspace.id))

    viewer = member(parts.ctx.db, "viewer@example.com", Role.VIEWER, "acme", clock())
    signed_in(client, viewer)
    page = client.get(f"{BASE}/escalation/{policy.id}")
    assert page.status_code == 200
    main = page.text[page.text.index('<main id="main"'):page.text.index("</main>")]
    assert 'method="post"' not in main and "Save policy" not in main and "Leave a row empty" not in main
    assert '<fieldset class="form form-readonly" disabled>' in main
    assert main.count('class="escalation-step"') == 2  # no blank row to fill in
    assert f'value="user:{owner.user.id}" selected' in main


def test_my_notifications_adds_a_method_sends_it_a_test_and_saves_rules(
    client: TestClient, owner: Member, parts: Parts, notifier: Notifier, receiver: Receiver
) -> None:
    signed_in(client, owner)
    page = client.get(f"{BASE}/me/notifications")
    assert page.status_code == 200 and "No contact methods yet" in page.text
    csrf = hidden_csrf(page.text)
    target = orjson.dumps({"url": f"{receiver.url}/me", "secret": "a-long-shared-secret"}).decode()
    added = client.post(
        f"{BASE}/me/contact-methods",
        data={"_csrf": csrf, "kind": "webhook", "name": "Phone", "target": target},
        follow_redirects=False,
    )
    assert added.status_code == 303, added.text
    missing = client.post(
        f"{BASE}/me/contact-methods", data={"_csrf": csrf, "kind": "webhook", "name": "X", "target": "{}"}
    )
    assert missing.status_code == 400 and "is required" in missing.text
    (method,) = notifier.db.read(lambda c: cq.list_for(c, owner.workspace.id, owner.user.id))
    tested = client.post(f"{BASE}/me/contact-methods/{method.id}/test", data={"_csrf": csrf})
    assert tested.status_code == 200 and "Test sent." in tested.text
    assert receiver.wait_for(1)[0].json["event"] == "test"
    rules = client.post(
        f"{BASE}/me/notification-rules",
        data={
            "_csrf": csrf,
            "high0_method": str(method.id),
            "high0_delay": "0",
            "normal0_method": str(method.id),
            "normal0_delay": "30",
        },
    )
    assert rules.status_code == 200 and "Rules saved." in rules.text
    saved = parts.ctx.db.read(lambda c: eq.rules_of(c, owner.workspace.id, owner.user.id))
    assert [(r.urgency, r.delay_minutes) for r in saved] == [("high", 0), ("normal", 30)]
    bad = client.post(
        f"{BASE}/me/notification-rules",
        data={"_csrf": csrf, "high0_method": str(method.id), "high0_delay": "soon"},
    )
    assert bad.status_code == 400 and "whole minutes" in bad.text
