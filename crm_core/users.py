"""What a user account may hold: the one validation behind every path that creates or edits
users (the admin API, the demo's users), below the web layer.

- **Passwords**: 10 to `MAX_PASSWORD` characters (sign-in reads no more than that, so a longer
  one could never be typed in), not only whitespace, no control characters.
- **User names**: 2-64 characters of letters, digits and `. _ - @`, one script only (a name
  mixing Latin and Cyrillic letters is refused: `оlga` with a Cyrillic `о` looks like `olga`),
  unique regardless of case, Unicode compatibility forms and Latin/Cyrillic/Greek look-alikes
  (`Olga`, `olga` and `оlga` are one name).
- **Endpoints** (the phone the PBX rings, sent to Asterisk in AMI headers): empty, or
  `TECH/resource` in printable ASCII with no spaces, so no CR/LF can inject an AMI header.
- **Full names**: at most 100 characters, no control characters.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.inputs import InputError
from crm_core.models import User

MIN_PASSWORD = 10
MAX_PASSWORD = 256  # agent_desktop.auth_views reads at most this many characters at sign-in
MAX_USERNAME = 64
MAX_FULL_NAME = 100
MAX_ENDPOINT = 100

_USERNAME_PUNCTUATION = frozenset("._-@")
_ENDPOINT = re.compile(r"[A-Za-z][A-Za-z0-9]*/[A-Za-z0-9_.@:+\-/]+")
# Cyrillic and Greek letters that look like Latin ones (lower case, after casefold)
_LOOK_ALIKES = str.maketrans(
    {
        "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o",
        "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j",
        "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ɡ": "g", "ᴠ": "v", "з": "3", "ч": "4",
        "α": "a", "β": "b", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
        "τ": "t", "υ": "u", "χ": "x", "γ": "y", "η": "n", "μ": "u",
    }
)  # fmt: skip


class UserInputError(InputError):
    """A refused user field (the web edge answers it with 422 naming the field)."""


class UsernameTaken(UserInputError):
    """The name is another user's, up to case and look-alikes (the web edge: 409)."""


def _controls(text: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in text)


def _script(char: str) -> str:
    """The script of a letter, from its Unicode name (LATIN, CYRILLIC, GREEK, ...)."""
    return unicodedata.name(char, "UNKNOWN").split(" ", 1)[0]


def check_password(value: Any) -> str:
    if not isinstance(value, str):
        raise UserInputError("password", "a text")
    if not MIN_PASSWORD <= len(value) <= MAX_PASSWORD:
        raise UserInputError(
            "password", f"{MIN_PASSWORD} to {MAX_PASSWORD} characters (sign-in reads no more)"
        )
    if not value.strip():
        raise UserInputError("password", "not only spaces")
    if _controls(value):
        raise UserInputError("password", "no control characters")
    return value


def check_username(value: Any) -> str:
    """The name as stored: NFKC-normalised and stripped; refused if it is not a clean name."""
    if not isinstance(value, str):
        raise UserInputError("username", "a text")
    if _controls(value):  # before stripping: "olga\n" is refused, not quietly made "olga"
        raise UserInputError("username", "no control characters")
    name = unicodedata.normalize("NFKC", value.strip(" "))
    if not 2 <= len(name) <= MAX_USERNAME:
        raise UserInputError("username", f"2-{MAX_USERNAME} characters")
    if any(not (c.isalnum() or c in _USERNAME_PUNCTUATION) for c in name):
        raise UserInputError(
            "username", "letters, digits and . _ - @ only (no spaces or control characters)"
        )
    scripts = {_script(c) for c in name if c.isalpha()}
    if len(scripts) > 1:
        raise UserInputError(
            "username",
            f"letters of one script only (this one mixes {', '.join(sorted(scripts))})",
        )
    return name


def username_key(name: str) -> str:
    """What two names must not share: case, compatibility forms and look-alikes folded."""
    return unicodedata.normalize("NFKC", name).casefold().translate(_LOOK_ALIKES)


def check_endpoint(value: Any) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or len(value) > MAX_ENDPOINT or not _ENDPOINT.fullmatch(value):
        raise UserInputError(
            "endpoint",
            f"empty or TECH/resource such as PJSIP/1001 or Local/1001@agents (ASCII, no spaces"
            f" or line breaks, at most {MAX_ENDPOINT} characters)",
        )
    return value


def check_full_name(value: Any) -> str:
    if not isinstance(value, str):
        raise UserInputError("full_name", "a text")
    name = value.strip()
    if len(name) > MAX_FULL_NAME:
        raise UserInputError("full_name", f"at most {MAX_FULL_NAME} characters")
    if _controls(name):
        raise UserInputError("full_name", "no control characters")
    return name


async def ensure_new_username(session: AsyncSession, name: str) -> None:
    """Refuses a name that an existing user's name equals once case and look-alikes are
    folded (`Olga` beside `olga`)."""
    key = username_key(name)
    for existing in (await session.execute(select(User.username))).scalars():
        if username_key(existing) == key:
            raise UsernameTaken(
                "username", f"too like the existing user {existing!r} (case or look-alikes)"
            )
