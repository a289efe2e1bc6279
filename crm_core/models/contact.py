"""Debtors and their phone numbers. A number may belong to several people (a shared home line)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_core.models.base import Base, str_enum


class ContactKind(enum.StrEnum):
    PERSON = "person"
    COMPANY = "company"


class PhoneKind(enum.StrEnum):
    MOBILE = "mobile"
    HOME = "home"
    WORK = "work"
    OTHER = "other"


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_ref: Mapped[str | None] = mapped_column(String(64), unique=True)
    kind: Mapped[ContactKind] = mapped_column(str_enum(ContactKind), default=ContactKind.PERSON)
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    company_name: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[str] = mapped_column(String(8), default="en")
    address_line: Mapped[str] = mapped_column(String(200), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    region: Mapped[str] = mapped_column(String(100), default="")
    postal_code: Mapped[str] = mapped_column(String(20), default="")
    country: Mapped[str] = mapped_column(String(2), default="")
    timezone: Mapped[str | None] = mapped_column(String(64))
    segment: Mapped[str] = mapped_column(String(32), default="")
    vip: Mapped[bool] = mapped_column(default=False)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    phone_links: Mapped[list[ContactPhone]] = relationship(back_populates="contact")

    __table_args__ = (Index("ix_contacts_last_first", "last_name", "first_name"),)

    @property
    def display_name(self) -> str:
        if self.kind is ContactKind.COMPANY:
            return self.company_name
        return " ".join(part for part in (self.first_name, self.last_name) if part)


class Phone(Base):
    __tablename__ = "phones"

    id: Mapped[int] = mapped_column(primary_key=True)
    e164: Mapped[str] = mapped_column(String(20), unique=True)
    raw: Mapped[str] = mapped_column(String(40))
    kind: Mapped[PhoneKind] = mapped_column(str_enum(PhoneKind), default=PhoneKind.MOBILE)
    do_not_call: Mapped[bool] = mapped_column(default=False)
    dnc_reason: Mapped[str] = mapped_column(String(200), default="")
    dnc_at: Mapped[datetime | None]

    contact_links: Mapped[list[ContactPhone]] = relationship(back_populates="phone")


class ContactPhone(Base):
    __tablename__ = "contact_phones"

    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    phone_id: Mapped[int] = mapped_column(
        ForeignKey("phones.id", ondelete="CASCADE"), primary_key=True
    )
    is_primary: Mapped[bool] = mapped_column(default=False)
    source: Mapped[str] = mapped_column(String(32), default="import")

    contact: Mapped[Contact] = relationship(back_populates="phone_links")
    phone: Mapped[Phone] = relationship(back_populates="contact_links")

    __table_args__ = (Index("ix_contact_phones_phone", "phone_id"),)
