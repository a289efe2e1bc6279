"""Callboard's core: domain model, storage, services, event bus, configuration."""
