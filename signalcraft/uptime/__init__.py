"""Uptime: the in-process probe loop, monitors, heartbeats, status pages."""
