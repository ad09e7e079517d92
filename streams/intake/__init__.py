"""Intake: the HTTP API, the Python producer client and bulk import."""
