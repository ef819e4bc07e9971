"""Evaluation of trained world models."""
