"""REST API for supervisors (live agents and queues) and admins (users, skills, queues)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agent_desktop.api_routes import BOOLEAN, INTEGER, STRING, ApiRoute, json_body
from agent_desktop.duty import take_off_duty
from agent_desktop.errors import ApiError, invalid, not_found, path_id, read_json
from agent_desktop.keys import BOARD, DEPS, SESSIONS, DesktopDeps
from agent_desktop.ports import agent_id_for
from agent_desktop.security import client_address, require_admin, require_supervisor
from crm_core import audit, inputs
from crm_core import users as user_rules
from crm_core.auth import hash_password
from crm_core.models import QueueDefinition, Role, Skill, User, UserSkill


async def live_agents(request: web.Request) -> web.Response:
    require_supervisor(request)
    return web.json_response({"items": request.app[BOARD].panel_snapshot()["agents"]})


async def live_queues(request: web.Request) -> web.Response:
    require_supervisor(request)
    return web.json_response({"items": request.app[BOARD].panel_snapshot()["queues"]})


def _user_dict(user: User, skills: dict[str, int]) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "full_name": user.full_name,
        "role": user.role.value,
        "endpoint": user.endpoint,
        "language": user.language,
        "active": user.active,
        "skills": skills,
    }


async def list_users(request: web.Request) -> web.Response:
    require_admin(request)
    async with request.app[DEPS].db.session() as session:
        users = (await session.execute(select(User).order_by(User.username))).scalars().all()
        skills: dict[int, dict[str, int]] = {}
        rows = await session.execute(
            select(UserSkill.user_id, Skill.name, UserSkill.level).join(
                Skill, Skill.id == UserSkill.skill_id
            )
        )
        for user_id, name, level in rows:
            skills.setdefault(user_id, {})[name] = level
    return web.json_response({"items": [_user_dict(u, skills.get(u.id, {})) for u in users]})


def _role(value: object) -> Role:
    try:
        return Role(str(value))
    except ValueError:
        raise invalid("role", "operator, supervisor or admin") from None


def _language(value: object) -> str:
    if value not in ("en", "ru"):
        raise invalid("language", "en or ru")
    return str(value)


async def _password_hash(value: object) -> str:
    password = user_rules.check_password(value)
    return await asyncio.get_running_loop().run_in_executor(None, hash_password, password)


async def create_user(request: web.Request) -> web.Response:
    principal = require_admin(request)
    deps = request.app[DEPS]
    body = await read_json(request)
    username = user_rules.check_username(body.get("username"))
    full_name = user_rules.check_full_name(body.get("full_name", ""))
    endpoint = user_rules.check_endpoint(body.get("endpoint", ""))
    role, language = _role(body.get("role", "operator")), _language(body.get("language", "en"))
    user = User(
        username=username,
        full_name=full_name,
        role=role,
        password_hash=await _password_hash(body.get("password")),
        endpoint=endpoint,
        language=language,
        created_at=deps.clock.now(),
    )
    try:
        async with deps.db.session() as session:
            try:
                await user_rules.ensure_new_username(session, username)
            except user_rules.UsernameTaken as exc:
                raise ApiError(409, "conflict", str(exc), {"field": "username"}) from None
            session.add(user)
            await session.flush()
            _audit(session, request, principal.user_id, "create", "user", user.id, deps)
            await session.commit()
    except IntegrityError:
        raise ApiError(409, "conflict", f"user {user.username!r} exists") from None
    return web.json_response(_user_dict(user, {}), status=201)


async def update_user(request: web.Request) -> web.Response:
    principal = require_admin(request)
    deps = request.app[DEPS]
    user_id = path_id(request, "user_id")
    body = await read_json(request)
    async with deps.db.session() as session:
        user = await session.get(User, user_id)
        if user is None:
            raise not_found(f"user {user_id}")
        if "full_name" in body:
            user.full_name = user_rules.check_full_name(body["full_name"])
        if "role" in body:
            user.role = _role(body["role"])
        if "endpoint" in body:
            user.endpoint = user_rules.check_endpoint(body["endpoint"])
        if "language" in body:
            user.language = _language(body["language"])
        if "password" in body:
            user.password_hash = await _password_hash(body["password"])
        if "active" in body:
            if not isinstance(body["active"], bool):
                raise invalid("active", "true or false")
            user.active = body["active"]
        if "skills" in body:
            await _set_skills(session, user, body["skills"])
        _audit(session, request, principal.user_id, "change", "user", user.id, deps)
        await session.commit()
        active = user.active
    # roles, language and activation are read at sign-in: make them take effect now (ending
    # the sessions closes their websockets too)
    request.app[SESSIONS].end_user(user_id)
    if not active:
        await take_off_duty(deps, agent_id_for(user_id))
    return web.json_response({"ok": True})


async def _set_skills(session: AsyncSession, user: User, skills: object) -> None:
    if not isinstance(skills, dict):
        raise invalid("skills", "an object of skill name -> level 1..100")
    known = {s.name: s for s in (await session.execute(select(Skill))).scalars()}
    rows = await session.execute(select(UserSkill).where(UserSkill.user_id == user.id))
    for row in rows.scalars():
        await session.delete(row)
    for name, level in skills.items():
        if name not in known:
            raise invalid("skills", f"unknown skill {name!r}")
        if not isinstance(level, int) or isinstance(level, bool) or not 1 <= level <= 100:
            raise invalid("skills", f"level of {name!r} must be 1..100")
        session.add(UserSkill(user_id=user.id, skill_id=known[name].id, level=level))


async def list_skills(request: web.Request) -> web.Response:
    require_admin(request)
    async with request.app[DEPS].db.session() as session:
        skills = (await session.execute(select(Skill).order_by(Skill.name))).scalars().all()
    return web.json_response(
        {"items": [{"id": s.id, "name": s.name, "description": s.description} for s in skills]}
    )


async def create_skill(request: web.Request) -> web.Response:
    principal = require_admin(request)
    deps = request.app[DEPS]
    body = await read_json(request)
    name = body.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 64:
        raise invalid("name", "1-64 characters")
    skill = Skill(name=name, description=str(body.get("description", ""))[:200])
    try:
        async with deps.db.session() as session:
            session.add(skill)
            await session.flush()
            _audit(session, request, principal.user_id, "create", "skill", skill.id, deps)
            await session.commit()
    except IntegrityError:
        raise ApiError(409, "conflict", f"skill {name!r} exists") from None
    return web.json_response({"id": skill.id, "name": skill.name}, status=201)


def _queue_dict(q: QueueDefinition) -> dict[str, Any]:
    return {
        "id": q.id,
        "name": q.name,
        "required_skills": q.required_skills,
        "priority": q.priority,
        "sl_target_pct": q.sl_target_pct,
        "sl_threshold_s": q.sl_threshold_s,
        "max_wait_s": q.max_wait_s,
        "overflow": q.overflow,
        "callback_offer_after_s": q.callback_offer_after_s,
        "recording": q.recording,
    }


async def list_queues(request: web.Request) -> web.Response:
    require_admin(request)
    async with request.app[DEPS].db.session() as session:
        queues = (
            (await session.execute(select(QueueDefinition).order_by(QueueDefinition.name)))
            .scalars()
            .all()
        )
    return web.json_response({"items": [_queue_dict(q) for q in queues]})


_QUEUE_INTS = {  # the bounds of each (the columns are 32-bit integers)
    "priority": 1000,
    "sl_target_pct": 100,
    "sl_threshold_s": 86_400,
    "max_wait_s": 86_400,
}


def _apply_queue(queue: QueueDefinition, body: dict[str, Any]) -> None:
    for key, high in _QUEUE_INTS.items():
        if key in body:
            value = body[key]
            if isinstance(value, str):  # a number only: "5" is refused as before
                raise invalid(key, f"a whole number from 0 to {high}")
            setattr(queue, key, inputs.whole(value, key, low=0, high=high))
    if "required_skills" in body:
        skills = body["required_skills"]
        if not isinstance(skills, list) or not all(
            isinstance(s, dict) and isinstance(s.get("skill"), str) for s in skills
        ):
            raise invalid("required_skills", 'a list of {"skill": name, "min_level": n}')
        queue.required_skills = skills
    if "recording" in body:
        if body["recording"] not in ("always", "never", "on_demand"):
            raise invalid("recording", "always, never or on_demand")
        queue.recording = body["recording"]


async def create_queue(request: web.Request) -> web.Response:
    principal = require_admin(request)
    deps = request.app[DEPS]
    body = await read_json(request)
    name = body.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 64:
        raise invalid("name", "1-64 characters")
    queue = QueueDefinition(name=name, required_skills=[], overflow=[])
    _apply_queue(queue, body)
    try:
        async with deps.db.session() as session:
            session.add(queue)
            await session.flush()
            _audit(session, request, principal.user_id, "create", "queue", queue.id, deps)
            await session.commit()
    except IntegrityError:
        raise ApiError(409, "conflict", f"queue {name!r} exists") from None
    return web.json_response(_queue_dict(queue), status=201)


async def update_queue(request: web.Request) -> web.Response:
    principal = require_admin(request)
    deps = request.app[DEPS]
    queue_id = path_id(request, "queue_id")
    body = await read_json(request)
    async with deps.db.session() as session:
        queue = await session.get(QueueDefinition, queue_id)
        if queue is None:
            raise not_found(f"queue {queue_id}")
        _apply_queue(queue, body)
        _audit(session, request, principal.user_id, "change", "queue", queue.id, deps)
        await session.commit()
        return web.json_response(_queue_dict(queue))


def _audit(
    session: AsyncSession,
    request: web.Request,
    user_id: int,
    action: str,
    kind: str,
    oid: int,
    deps: DesktopDeps,
) -> None:
    audit.record(
        session,
        at=deps.clock.now(),
        user_id=user_id,
        action=action,
        object_type=kind,
        object_id=oid,
        remote_addr=client_address(request),
    )


USER_BODY = json_body(
    username=STRING,
    full_name=STRING,
    role={"type": "string", "enum": ["operator", "supervisor", "admin"]},
    password=STRING,
    endpoint=STRING,
    language={"type": "string", "enum": ["en", "ru"]},
    active=BOOLEAN,
    skills={"type": "object", "additionalProperties": INTEGER},
)
QUEUE_BODY = json_body(
    name=STRING,
    priority=INTEGER,
    sl_target_pct=INTEGER,
    sl_threshold_s=INTEGER,
    max_wait_s=INTEGER,
    required_skills={"type": "array", "items": {"type": "object"}},
    recording={"type": "string", "enum": ["always", "never", "on_demand"]},
)

ROUTES = (
    ApiRoute("GET", "/api/agents", live_agents, "Agents' live states", "supervisor"),
    ApiRoute("GET", "/api/queues", live_queues, "Queues' live figures", "supervisor"),
    ApiRoute("GET", "/api/admin/users", list_users, "Users", "admin"),
    ApiRoute("POST", "/api/admin/users", create_user, "Create a user", "admin", body=USER_BODY),
    ApiRoute(
        "PATCH", "/api/admin/users/{user_id}", update_user, "Change a user", "admin", USER_BODY
    ),
    ApiRoute("GET", "/api/admin/skills", list_skills, "Skills", "admin"),
    ApiRoute(
        "POST",
        "/api/admin/skills",
        create_skill,
        "Create a skill",
        "admin",
        body=json_body(name=STRING, description=STRING),
    ),
    ApiRoute("GET", "/api/admin/queues", list_queues, "Queue definitions", "admin"),
    ApiRoute("POST", "/api/admin/queues", create_queue, "Create a queue", "admin", QUEUE_BODY),
    ApiRoute(
        "PATCH", "/api/admin/queues/{queue_id}", update_queue, "Change a queue", "admin", QUEUE_BODY
    ),
)
