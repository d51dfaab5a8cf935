"""Reusable widgets; each keeps its intrinsic look in DEFAULT_CSS."""
