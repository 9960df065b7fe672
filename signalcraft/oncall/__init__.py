"""On-call: schedules, rotations, overrides, escalation policies (pure cores and storage)."""
