"""docs/roles.md states the permission table; it must equal what the server enforces."""

from __future__ import annotations

from pathlib import Path

from signalcraft.auth.rbac import API_KEY_ROLES, PERMISSIONS, Permission, Role

ROLES_DOC = Path(__file__).resolve().parents[1] / "docs" / "roles.md"
MARKS = {"✓": True, "—": False}


def _cells(line: str) -> list[str]:
    return [cell.strip().strip("`") for cell in line.strip().strip("|").split("|")]


def first_table(text: str, heading: str) -> list[str]:
    """The lines of the first Markdown table after ``heading``."""
    lines = text.split(heading, 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    table: list[str] = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append(line)
    return table


def documented_permissions(text: str) -> dict[Role, frozenset[Permission]]:
    """The table under '## Permission table': a header of permissions, one row per role."""
    header, _separator, *body = first_table(text, "## Permission table")
    first, *columns = _cells(header)
    assert first == "Role", f"first column is {first!r}"
    permissions = [Permission(name) for name in columns]
    table: dict[Role, frozenset[Permission]] = {}
    for line in body:
        role_name, *marks = _cells(line)
        assert len(marks) == len(permissions), f"row {role_name!r} has {len(marks)} cells"
        unknown = [m for m in marks if m not in MARKS]
        assert not unknown, f"row {role_name!r}: use ✓ or —, not {unknown}"
        role = Role(role_name)
        assert role not in table, f"role {role_name!r} listed twice"
        table[role] = frozenset(p for p, mark in zip(permissions, marks, strict=True) if MARKS[mark])
    return table


def test_the_documented_permission_table_equals_rbac_permissions() -> None:
    assert documented_permissions(ROLES_DOC.read_text(encoding="utf-8")) == PERMISSIONS


def test_the_table_lists_every_permission_as_a_column() -> None:
    text = ROLES_DOC.read_text(encoding="utf-8")
    header = next(
        line for line in text.split("## Permission table", 1)[1].splitlines() if line.startswith("|")
    )
    assert _cells(header)[1:] == [p.value for p in Permission]


def test_every_permission_has_a_documented_meaning() -> None:
    table = first_table(ROLES_DOC.read_text(encoding="utf-8"), "## What each permission covers")
    rows = [_cells(line) for line in table[2:]]
    described = {cells[0] for cells in rows if len(cells) == 2 and cells[1]}
    assert {p.value for p in Permission} <= described


def test_the_doc_says_api_keys_are_never_owner() -> None:
    assert Role.OWNER not in API_KEY_ROLES
    assert "never owner" in ROLES_DOC.read_text(encoding="utf-8")
