"""Group keys (``signalcraft.pipeline.keys.group_key_for``): by ``group_by`` labels, else
the source's group labels, else ``alertname``, else the fingerprint. The key of an alert
name is remembered; it must stay the same key however many names came before. And the
``digest`` under keys and fingerprints: the same hash for ASCII and other text."""

from __future__ import annotations

import hashlib

from signalcraft.ingest.fields import digest
from signalcraft.ingest.model import AlertStatus, RawAlert, Severity
from signalcraft.pipeline.keys import fingerprint_for, group_key_for


def alert(labels: dict[str, str], group_labels: dict[str, str] | None = None) -> RawAlert:
    return RawAlert(
        source="prometheus",
        title="t",
        status=AlertStatus.FIRING,
        severity=Severity.WARNING,
        labels=labels,
        group_labels=group_labels or {},
    )


def key(labels: dict[str, str], group_labels: dict[str, str] | None = None) -> str:
    raw = alert(labels, group_labels)
    return group_key_for(raw, fingerprint_for(raw))


def test_alerts_of_one_name_share_a_group_key_and_other_names_do_not() -> None:
    disk = key({"alertname": "DiskFull", "instance": "db1"})
    assert disk == key({"alertname": "DiskFull", "instance": "db2"}) == "an:" + digest(["DiskFull"], 32)
    assert key({"alertname": "HostDown", "instance": "db1"}) != disk


def test_the_key_of_a_name_is_the_same_after_many_thousand_other_names() -> None:
    first = key({"alertname": "DiskFull"})
    others = {key({"alertname": f"Rule{i}"}) for i in range(10_000)}
    assert len(others) == 10_000 and first not in others
    assert key({"alertname": "DiskFull"}) == first
    assert key({"alertname": "Rule7"}) == "an:" + digest(["Rule7"], 32)


def test_group_labels_and_group_by_come_before_the_alert_name() -> None:
    by_labels = key({"alertname": "DiskFull"}, group_labels={"team": "db"})
    assert by_labels == "gl:" + digest(["team=db"], 32)
    raw = alert({"alertname": "DiskFull", "team": "db"})
    assert group_key_for(raw, fingerprint_for(raw), ["team"]) == "by:" + digest(["team=db"], 32)
    nameless = alert({"instance": "db1"})
    assert group_key_for(nameless, fingerprint_for(nameless)) == "fp:" + fingerprint_for(nameless)


def test_digest_hashes_the_utf8_parts_joined_and_ended_by_byte_ff_whatever_the_text() -> None:
    for parts in (["DiskFull"], ["a", "b=c"], ["é", "x"], ["\xff", ""], ["\ud800"], []):
        data = b"\xff".join(p.encode("utf-8", "surrogatepass") for p in parts) + b"\xff"
        assert digest(parts, 64) == hashlib.sha256(data).hexdigest()
        assert digest(iter(parts), 16) == hashlib.sha256(data).hexdigest()[:16]
