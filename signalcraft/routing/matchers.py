"""Label matchers, as Alertmanager writes them: ``name=value``, ``name!=value``,
``name=~regex``, ``name!~regex``. Regexes are anchored (the whole value must match), like
Alertmanager's. Compiled once, at save time, so a bad regex is refused then and never at
3 a.m. when the alert arrives.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

MAX_PATTERN = 1000
_OPS = ("=~", "!~", "!=", "=")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-/]{0,199}$")


class MatcherError(ValueError):
    """A matcher that cannot be used; the message says why."""


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def make(cls, name: str, op: str, value: str) -> Matcher:
        if not _NAME.match(name):
            raise MatcherError(f"{name!r} is not a label name")
        if op not in _OPS:
            raise MatcherError(f"operator must be one of {', '.join(_OPS)}")
        if len(value) > MAX_PATTERN:
            raise MatcherError(f"value longer than {MAX_PATTERN} characters")
        regex = None
        if op in ("=~", "!~"):
            try:
                regex = re.compile(f"(?:{value})\\Z")
            except re.error as exc:
                raise MatcherError(f"invalid regex {value!r}: {exc}") from None
        return cls(name, op, value, regex)

    @classmethod
    def parse(cls, text: str) -> Matcher:
        """``severity=~"critical|error"`` or ``team!=db`` (quotes optional)."""
        for op in _OPS:
            name, sep, value = text.partition(op)
            if sep and name.strip() and "=" not in name and "!" not in name:
                value = value.strip()
                if len(value) >= 2 and value[0] == value[-1] == '"':
                    value = value[1:-1].replace('\\"', '"')
                return cls.make(name.strip(), op, value)
        raise MatcherError(f"{text!r} is not a matcher like name=value, name!=value, name=~regex")

    def matches(self, labels: Mapping[str, str]) -> bool:
        # A missing label matches as the empty string, as in Alertmanager.
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        assert self._regex is not None
        found = self._regex.match(actual) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        return f'{self.name}{self.op}"{self.value}"'


def all_match(matchers: Sequence[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


def parse_all(texts: Sequence[str]) -> list[Matcher]:
    return [Matcher.parse(t) for t in texts]
