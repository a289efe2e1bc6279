"""Errors of the ACD. Each has a stable `code` for the API and names what was wrong."""

from __future__ import annotations


class RoutingError(Exception):
    code = "routing_error"


class InvalidTransition(RoutingError):
    """An agent was asked to move to a state it cannot reach from where it is."""

    code = "invalid_agent_transition"


class UnknownAgent(RoutingError):
    code = "unknown_agent"


class UnknownQueue(RoutingError):
    code = "unknown_queue"


class UnknownCall(RoutingError):
    code = "unknown_call"


class DuplicateCall(RoutingError):
    code = "duplicate_call"


class InvalidQueueConfig(RoutingError):
    code = "invalid_queue_config"
