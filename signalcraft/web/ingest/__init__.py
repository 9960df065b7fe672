"""Ingest routes: one module of shared edge logic, one of routes per wire format."""
