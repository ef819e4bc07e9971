"""Agents trained in imagination and inside LaWM-v0."""
