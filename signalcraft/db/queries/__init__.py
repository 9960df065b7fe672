"""Named SQL queries, one module per area. Handlers and tasks call these; they build no SQL."""
