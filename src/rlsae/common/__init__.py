"""Helpers every stage shares: files written whole, resume state without pickle, run provenance."""
