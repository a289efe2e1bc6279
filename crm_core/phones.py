"""Phone numbers: normalised to E.164 so a caller is found however the number was written."""

from __future__ import annotations

import phonenumbers
from phonenumbers import timezone as phone_timezone


class InvalidPhoneNumber(ValueError):
    def __init__(self, raw: str, reason: str) -> None:
        super().__init__(f"invalid phone number {raw!r}: {reason}")
        self.raw = raw
        self.reason = reason


_PARSE_ERRORS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
    phonenumbers.NumberParseException.NOT_A_NUMBER: "not a phone number",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
    phonenumbers.NumberParseException.TOO_LONG: "too long",
}


def normalise(raw: str, default_region: str) -> str:
    """E.164 form of `raw`; a number without country code is read in `default_region`."""
    text = raw.strip()
    if not text:
        raise InvalidPhoneNumber(raw, "empty")
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, default_region.upper())
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(raw, _PARSE_ERRORS.get(exc.error_type, str(exc))) from exc
    if not phonenumbers.is_possible_number(number):
        raise InvalidPhoneNumber(raw, "wrong length for its country")
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(raw, "no such number range in its country")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def try_normalise(raw: str, default_region: str) -> str | None:
    try:
        return normalise(raw, default_region)
    except InvalidPhoneNumber:
        return None


def time_zones(e164: str) -> tuple[str, ...]:
    """IANA zones the number's range may be in; one zone means the number tells the local time."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return ()
    zones = tuple(phone_timezone.time_zones_for_number(number))
    return () if zones == (phone_timezone.UNKNOWN_TIMEZONE,) else zones
