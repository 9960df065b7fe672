"""Session replays: rrweb events recorded in the browser, stored zstd-compressed on local disk.

- :mod:`ids` and :mod:`origins`: what a session id, a recorder key and an allowed origin look like.
- :mod:`chunks`: a request body to a validated :class:`~chunks.Chunk` (pure).
- :mod:`storage`: spool files (one per open session, appended with fsync) and the final
  ``<data>/replays/<workspace_id>/<YYYY-MM-DD>/<session_id>.rrweb.zst``.
- :mod:`service`: ingest, finalize after inactivity, retention, delete (database + files).
- :mod:`tasks`: the periodic Huey tasks.

See docs/replays.md.
"""
