"""Names on the schedule timeline's bars: in full where they fit the narrowest chart (a phone,
640px), else initials, else nothing (the legend and the bar's title say who)."""

from __future__ import annotations

import pytest

from signalcraft.web.schedule_views import fitting_label, initials


@pytest.mark.parametrize(
    ("name", "expected"),
    [("owner", "O"), ("Ana Lima", "AL"), ("alexandra.vandenberg", "AV"), ("jean-paul sartre", "JP"),
     ("", "")],
)
def test_initials_are_the_first_letters_of_the_first_two_words(name: str, expected: str) -> None:
    assert initials(name) == expected


@pytest.mark.parametrize(
    ("width_percent", "expected"),
    [
        (25.0, "alexandra.vandenberg"),  # 160px: room for 20 characters
        (10.0, "AV"),  # 64px
        (3.5, "AV"),  # 22px: two letters just fit
        (3.0, ""),  # 19px: not even initials
    ],
)
def test_a_bar_gets_the_longest_label_that_fits(width_percent: float, expected: str) -> None:
    assert fitting_label("alexandra.vandenberg", width_percent) == expected
