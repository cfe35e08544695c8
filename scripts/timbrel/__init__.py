"""Timbrel Python evaluation toolkit (import with PYTHONPATH=scripts)."""
