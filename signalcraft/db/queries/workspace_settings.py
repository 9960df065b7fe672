"""Named queries behind the workspace settings page: rename and delete a workspace."""

from __future__ import annotations

import apsw


def rename_workspace(conn: apsw.Connection, workspace_id: int, name: str) -> None:
    conn.execute("UPDATE workspaces SET name = ? WHERE id = ?", (name, workspace_id))


def delete_workspace(conn: apsw.Connection, workspace_id: int) -> None:
    """Remove the workspace and, by ON DELETE CASCADE, everything in it (alerts, channels, keys,
    memberships, its audit entries); the users themselves stay."""
    conn.execute("DELETE FROM workspaces WHERE id = ?", (workspace_id,))
