"""Five-field cron expressions (``minute hour day-of-month month day-of-week``), timezone-aware.

The dialect is Vixie cron's, as crontab(5) documents it: ``*``, numbers, ranges ``a-b``,
steps ``*/n``, ``a-b/n`` and ``a/n``, lists, month and weekday names (``jan``, ``mon``),
weekday 7 as Sunday, and the ``@hourly``/``@daily``/``@midnight``/``@weekly``/``@monthly``/
``@yearly``/``@annually`` aliases. When both day fields are restricted a day matches if
EITHER does (crontab(5): "the command will be run when either field matches").

Times are wall-clock times in the expression's zone. A time skipped by a daylight-saving
jump fires just after the jump (zoneinfo maps it forward); a repeated time fires once, at
its first occurrence. An expression that can never fire (``0 0 30 2 *``) is refused by
:func:`parse_cron`, so the error shows when the monitor is saved, not at 3 a.m.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = {
    name: i
    for i, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1
    )
}
_DAYS = {name: i for i, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
# (name, lowest, highest, names)
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),
)
SEARCH_DAYS = 366 * 8 + 2  # Feb 29 can be 8 years away (2096 -> 2104)


class CronError(ValueError):
    """The expression or zone is not valid; the message says what and where."""


@dataclass(frozen=True, slots=True)
class Cron:
    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    days_restricted: bool
    weekdays_restricted: bool
    zone: ZoneInfo

    def day_matches(self, day: dt.date) -> bool:
        if day.month not in self.months:
            return False
        dom = day.day in self.days
        dow = (day.isoweekday() % 7) in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return dom or dow
        return dom and dow

    def next_after(self, epoch: float) -> float:
        """The first fire time strictly after ``epoch`` (seconds). CronError if none is found
        within eight years (cannot happen for an expression :func:`parse_cron` accepted)."""
        local = dt.datetime.fromtimestamp(epoch, self.zone).replace(tzinfo=None)
        start = local.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        day = start.date()
        for _ in range(SEARCH_DAYS):
            if self.day_matches(day):
                first = start if day == start.date() else dt.datetime(day.year, day.month, day.day)
                for hour in sorted(h for h in self.hours if h >= first.hour):
                    low = first.minute if hour == first.hour else 0
                    for minute in sorted(m for m in self.minutes if m >= low):
                        wall = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=self.zone)
                        fired = wall.timestamp()
                        if fired > epoch:
                            return fired
            day += dt.timedelta(days=1)
        raise CronError(f"{self.text!r} does not fire in the next eight years")


def _value(token: str, names: dict[str, int], field: str) -> int:
    low = token.lower()
    if low in names:
        return names[low]
    if not token.isdigit():
        raise CronError(f"{field}: {token!r} is not a number" + (" or a name" if names else ""))
    return int(token)


def _field(text: str, field: str, lo: int, hi: int, names: dict[str, int]) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise CronError(f"{field}: empty list item in {text!r}")
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"{field}: step {step_text!r} must be a positive number")
            step = int(step_text)
        if base == "*":
            start, end = lo, hi
        elif "-" in base:
            a, _, b = base.partition("-")
            start, end = _value(a, names, field), _value(b, names, field)
        else:
            start = _value(base, names, field)
            end = hi if step_text else start
        if not (lo <= start <= hi and lo <= end <= hi):
            raise CronError(f"{field}: {part!r} is outside {lo}-{hi}")
        if start > end:
            raise CronError(f"{field}: range {part!r} runs backwards")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise CronError(f"unknown time zone {name!r} (use an IANA name like Europe/Paris)") from None


def _can_fire(months: frozenset[int], days: frozenset[int]) -> bool:
    """With the weekday unrestricted: does some chosen month have some chosen day?"""
    return any(d <= calendar.monthrange(2000, m)[1] for m in months for d in days)  # 2000: a leap year


@lru_cache(maxsize=4096)
def parse_cron(text: str, zone: str = "UTC") -> Cron:
    """Parse and check an expression; CronError names the field that is wrong."""
    expr = ALIASES.get(text.strip().lower(), text.strip())
    parts = expr.split()
    if len(parts) != 5:
        raise CronError(f"expected 5 fields (minute hour day month weekday), got {len(parts)}")
    sets = [_field(part, *spec) for part, spec in zip(parts, _FIELDS, strict=True)]
    weekdays = frozenset(d % 7 for d in sets[4])
    days_restricted, weekdays_restricted = parts[2] != "*", parts[4] != "*"
    if not (days_restricted and weekdays_restricted) and not _can_fire(sets[3], sets[2]):
        raise CronError(f"{text.strip()!r} never fires: no chosen month has the chosen day")
    return Cron(
        text.strip(),
        sets[0],
        sets[1],
        sets[2],
        sets[3],
        weekdays,
        days_restricted,
        weekdays_restricted,
        zone_of(zone),
    )
