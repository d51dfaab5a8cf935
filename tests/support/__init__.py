"""Helpers shared by the test suite (servers, waiting, screens)."""
