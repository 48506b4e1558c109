"""Experiments behind the reason claims (placeholder, filled below)."""
