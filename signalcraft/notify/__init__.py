"""Notifications: channels, the outbox, and the one outbound HTTP client (http.py)."""
