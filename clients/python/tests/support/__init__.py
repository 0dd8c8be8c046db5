"""Helpers for the Python client's tests: real processes, started and stopped by pid."""
