"""Errors of the AMI link and of call control, each with a stable code for logs and the API.

Callers catch `AmiError` for "the PBX could not do it", or a subclass for one cause. `code` is
part of the public contract (the REST API and the desktop show it); the message is for people.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar


class AmiError(Exception):
    """Base of every AMI failure."""

    code: ClassVar[str] = "ami.error"


class LinkDown(AmiError):
    """No usable AMI session: not connected yet, reconnecting, or lost while waiting."""

    code = "ami.link_down"


class ConnectFailed(LinkDown):
    """The TCP connection or the AMI greeting failed (refused, unreachable, not an AMI server)."""

    code = "ami.connect_failed"

    def __init__(self, host: str, port: int, reason: str) -> None:
        super().__init__(f"cannot reach Asterisk AMI at {host}:{port}: {reason}")
        self.host = host
        self.port = port
        self.reason = reason


class LoginFailed(LinkDown):
    """Asterisk refused the credentials; retrying with the same secret will not help."""

    code = "ami.login_failed"

    def __init__(self, username: str, message: str) -> None:
        super().__init__(f"AMI login as {username!r} refused: {message}")
        self.username = username
        self.message = message


class OriginateLost(LinkDown):
    """The link dropped after the Originate was sent and before its outcome was known.

    The call may exist: follow it through the tracker by its channel id."""

    code = "ami.originate_lost"


class ActionFailed(AmiError):
    """Asterisk answered the action with `Response: Error` (its Message is kept verbatim)."""

    code = "ami.action_failed"

    def __init__(self, action: str, message: str, reply: Mapping[str, str] | None = None) -> None:
        super().__init__(f"AMI {action} failed: {message}")
        self.action = action
        self.message = message
        self.reply: Mapping[str, str] = dict(reply or {})


class ChannelNotFound(ActionFailed):
    """The channel named in the action no longer exists (the call probably ended)."""

    code = "ami.no_such_channel"


class ActionTimeout(AmiError):
    """No reply (or no OriginateResponse) within the allotted time; the link may be sick."""

    code = "ami.action_timeout"

    def __init__(self, action: str, timeout: float, waiting_for: str = "reply") -> None:
        super().__init__(f"AMI {action}: no {waiting_for} within {timeout:g} s")
        self.action = action
        self.timeout = timeout
        self.waiting_for = waiting_for


class InvalidRequest(AmiError, ValueError):
    """A call-control request that must not be sent (bad digit, header injection, wildcard)."""

    code = "ami.invalid_request"


_NO_CHANNEL_MESSAGES = ("no such channel", "channel does not exist", "channel specified does not")


def failure_for(action: str, reply: Mapping[str, str]) -> ActionFailed:
    """The typed error for an AMI `Response: Error` reply."""
    message = reply.get("Message", "") or "(no message)"
    if message.lower().startswith(_NO_CHANNEL_MESSAGES):
        return ChannelNotFound(action, message, reply)
    return ActionFailed(action, message, reply)
