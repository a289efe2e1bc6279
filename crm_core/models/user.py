"""People who sign in, the skills operators have, and the queues that ask for skills."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_core.models.base import Base, str_enum


class Role(enum.StrEnum):
    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(100), default="")
    role: Mapped[Role] = mapped_column(str_enum(Role))
    password_hash: Mapped[str] = mapped_column(String(200))
    endpoint: Mapped[str] = mapped_column(String(100), default="")  # e.g. PJSIP/1001
    language: Mapped[str] = mapped_column(String(8), default="en")
    team_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # the supervisor
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]

    skills: Mapped[list[UserSkill]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )


class Skill(Base):
    __tablename__ = "skills"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(200), default="")


class UserSkill(Base):
    __tablename__ = "user_skills"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    skill_id: Mapped[int] = mapped_column(
        ForeignKey("skills.id", ondelete="CASCADE"), primary_key=True
    )
    level: Mapped[int]

    user: Mapped[User] = relationship(back_populates="skills")
    skill: Mapped[Skill] = relationship()

    __table_args__ = (CheckConstraint("level BETWEEN 1 AND 100", name="level_range"),)


class QueueDefinition(Base):
    """A queue as administrators define it; routing turns it into its in-memory queue."""

    __tablename__ = "queues"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    # [{"skill": "collections", "min_level": 50}, ...]
    required_skills: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    priority: Mapped[int] = mapped_column(default=0)
    sl_target_pct: Mapped[int] = mapped_column(default=80)
    sl_threshold_s: Mapped[int] = mapped_column(default=20)
    max_wait_s: Mapped[int] = mapped_column(default=600)
    # [{"after_s": 30, "min_level": 30}, {"after_s": 90, "add_skill": "general"}]
    overflow: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    callback_offer_after_s: Mapped[int | None]
    recording: Mapped[str] = mapped_column(String(16), default="always")
