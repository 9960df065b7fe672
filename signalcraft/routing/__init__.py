"""Routing: rules, matchers, silences, inhibition, maintenance windows (pure) and their storage."""
