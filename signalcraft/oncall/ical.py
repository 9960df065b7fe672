"""iCalendar (RFC 5545) feeds of on-call shifts, for a schedule or a person."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from signalcraft.oncall.schedule import Shift


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _stamp(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def _fold(line: str) -> str:
    """Lines longer than 75 octets continue on the next line after a space (RFC 5545 3.1)."""
    data = line.encode("utf-8")
    if len(data) <= 75:
        return line
    parts: list[str] = []
    start = 0
    while start < len(data):
        end = min(start + (75 if not parts else 74), len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # never split a UTF-8 sequence
            end -= 1
        parts.append(data[start:end].decode("utf-8"))
        start = end
    return "\r\n ".join(parts)


@dataclass(frozen=True)
class Event:
    """One on-call shift as a calendar entry."""

    shift: Shift
    who: str
    schedule: str
    uid: str  # stable across refreshes so calendar clients update instead of duplicating


def events_of(
    uid_prefix: str, schedule_name: str, shifts: Sequence[Shift], people: Mapping[int, str]
) -> list[Event]:
    return [
        Event(
            s,
            people.get(s.user_id, f"user {s.user_id}"),
            schedule_name,
            f"{uid_prefix}-{int(s.start)}-{s.user_id}@signalcraft",
        )
        for s in shifts
    ]


def calendar(
    name: str, shifts: Sequence[Shift], people: Mapping[int, str], *, uid_prefix: str, now: float
) -> str:
    """One schedule's shifts as a calendar."""
    return feed(name, events_of(uid_prefix, name, shifts, people), now=now)


def feed(name: str, events: Sequence[Event], *, now: float) -> str:
    """Events of one or more schedules (a person's feed) as a calendar."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//SignalCraft//On-call//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{_escape(name)}",
    ]
    for event in sorted(events, key=lambda e: (e.shift.start, e.uid)):
        kind = " (override)" if event.shift.source.startswith("override:") else ""
        lines += [
            "BEGIN:VEVENT",
            f"UID:{event.uid}",
            f"DTSTAMP:{_stamp(now)}",
            f"DTSTART:{_stamp(event.shift.start)}",
            f"DTEND:{_stamp(event.shift.end)}",
            f"SUMMARY:{_escape(f'On call: {event.who} ({event.schedule}){kind}')}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"
