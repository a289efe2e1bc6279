"""REST API for operators' data: contacts, cards, calls, interactions, tasks.

Operators see only their own calls and the cards they were offered; a search only identifies a
caller (crm_core.search_scope: a minimum query, a small page, masked numbers, a rate per user,
every search audited), and a hit's card opens with a purpose, for a while. Every card view is
written to the audit log. Supervisors and admins may open any card (still audited).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from agent_desktop import contacts, wrapup
from agent_desktop.api_routes import BOOLEAN, INTEGER, STRING, ApiRoute, json_body
from agent_desktop.callbacks import callback_list
from agent_desktop.errors import (
    ApiError,
    forbidden,
    invalid,
    not_found,
    path_id,
    plain_text,
    query_id,
    read_json,
)
from agent_desktop.keys import BOARD, DEPS, SEARCH_SCOPE
from agent_desktop.principal import Principal
from agent_desktop.security import client_address, require
from crm_core import audit
from crm_core.card import public_recording_ref
from crm_core.interactions import InteractionLog
from crm_core.models import Interaction, Task
from crm_core.search_scope import PURPOSES, SearchRefused, too_short_message
from crm_core.tasks import complete_task, task_scope

SEARCH_MAX = 100  # characters of a contact search


OBJECT = {"type": "object"}


class TooManyRequests(ApiError):
    """429 with Retry-After (whole seconds)."""

    def __init__(self, exc: SearchRefused) -> None:
        self.retry_after = int(exc.retry_after) + 1
        super().__init__(429, "search.too_many", str(exc), {"retry_after": self.retry_after})

    def response(self) -> web.Response:
        response = super().response()
        response.headers["Retry-After"] = str(self.retry_after)
        return response


async def _may_open(request: web.Request, principal: Principal, contact_id: int) -> bool:
    return await _open_reason(request, principal, contact_id) is not None


async def _open_reason(
    request: web.Request, principal: Principal, contact_id: int
) -> dict[str, str] | None:
    """Why this user may open this card, from the server's own records (None: they may not):
    the call on their desk, an offer (screen pop) or a contact they created, a card they opened
    from a search lately, one of their own past calls, or their supervisor role. Never from the
    client (a search hit needs a purpose first: `get_card`)."""
    board = request.app[BOARD]
    call = board.current_call(principal.agent_id)
    if call is not None and call.contact_id == contact_id:
        return {"reason": "call", "linkedid": call.linkedid}
    granted = board.grant_reason(principal.agent_id, contact_id)
    if granted is not None:
        return granted
    searched = request.app[SEARCH_SCOPE].granted(principal.user_id, contact_id)
    if searched is not None:  # a card they opened from a search lately, with a purpose
        return searched
    async with request.app[DEPS].db.session() as session:  # their own past calls
        row = await session.execute(
            select(Interaction.linkedid)
            .where(Interaction.contact_id == contact_id, Interaction.agent_id == principal.user_id)
            .order_by(Interaction.started_at.desc())
            .limit(1)
        )
        own = row.first()
    if own is not None:
        return {"reason": "own_call", "linkedid": own[0] or ""}  # "": view_card's "no call"
    if principal.is_supervisor:
        return {"reason": "supervisor"}
    return None


async def me(request: web.Request) -> web.Response:
    principal = require(request)
    return web.json_response(
        {
            "user_id": principal.user_id,
            "username": principal.username,
            "full_name": principal.full_name,
            "role": principal.role.value,
            "language": principal.language,
            "agent_id": principal.agent_id,
        }
    )


async def search_contacts(request: web.Request) -> web.Response:
    principal = require(request)
    deps = request.app[DEPS]
    scope = request.app[SEARCH_SCOPE]
    query = plain_text(request.query.get("q", ""), "q", SEARCH_MAX)
    wide = principal.is_supervisor
    try:
        scope.admit(principal.user_id, wide)  # counted before anything else, refusals too
    except SearchRefused as exc:
        raise TooManyRequests(exc) from None
    async with deps.db.session() as session:
        try:
            hits = await contacts.search(
                session,
                query,
                deps.settings.center.default_region,
                limit=scope.page(wide),
                privacy=scope.privacy,
            )
            refused = ""
        except contacts.QueryTooShort:
            hits, refused = [], "too_short"
        audit.record(
            session,
            at=deps.clock.now(),
            user_id=principal.user_id,
            action="search",
            object_type="contact",
            remote_addr=client_address(request),
            query=query,
            hits=len(hits),
            **({"refused": refused} if refused else {}),
        )
        await session.commit()
    if refused:
        raise ApiError(
            422, "search.query_too_short", too_short_message(scope.privacy), {"field": "q"}
        )
    scope.found(principal.user_id, query, [h.contact_id for h in hits])
    return web.json_response({"items": [h.to_dict() for h in hits]})


def _open_searched(
    request: web.Request, principal: Principal, contact_id: int, purpose: str | None
) -> dict[str, str] | None:
    """Opens a recent search hit's card for a purpose (a grant: bounded, expiring), or None
    when no recent search of theirs found it."""
    scope = request.app[SEARCH_SCOPE]
    if scope.hit(principal.user_id, contact_id) is None:
        return None
    if purpose not in PURPOSES:
        raise ApiError(
            422,
            "search.purpose_needed",
            f"say why you open this card: purpose = {' | '.join(PURPOSES)}",
            {"field": "purpose", "choices": list(PURPOSES)},
        )
    try:
        return scope.open(principal.user_id, contact_id, purpose)
    except SearchRefused as exc:
        raise TooManyRequests(exc) from None


async def create_contact(request: web.Request) -> web.Response:
    """Quick creation for an unknown caller, bound to the call when `linkedid` is given."""
    principal = require(request)
    deps = request.app[DEPS]
    body = await read_json(request)
    linkedid = body.get("linkedid")
    if linkedid is not None and not isinstance(linkedid, str):
        raise invalid("linkedid", "a text")
    confirm = body.get("confirm_shared_number", False)
    if not isinstance(confirm, bool):
        raise invalid("confirm_shared_number", "true or false")
    board = request.app[BOARD]
    if linkedid is not None:
        call = board.calls.get(str(linkedid))
        if call is None or call.agent_id != principal.agent_id:
            raise forbidden("bind a contact to a call that is not yours")
    try:
        async with deps.db.session() as session:
            contact_id = await contacts.create_contact(
                session,
                first_name=body.get("first_name", ""),  # texts: checked by create_contact
                last_name=body.get("last_name", ""),
                phone=body.get("phone", ""),
                default_region=deps.settings.center.default_region,
                now=deps.clock.now(),
                user_id=principal.user_id,
                remote_addr=client_address(request),
                confirm_shared_number=confirm,
            )
    except contacts.NumberTaken as exc:
        raise ApiError(
            409,
            "contact.number_taken",
            str(exc),
            {"field": "phone", "confirm_with": "confirm_shared_number"},
        ) from exc
    except contacts.ContactInputError as exc:
        raise invalid(exc.field, str(exc)) from exc
    board.grant(principal.agent_id, contact_id, "created")
    if linkedid is not None:
        call = board.calls[str(linkedid)]
        call.contact_id = contact_id
        await InteractionLog(deps.db).call_updated(
            str(linkedid), at=deps.clock.now(), contact_id=contact_id
        )
    return web.json_response({"contact_id": contact_id}, status=201)


async def bind_contact(request: web.Request) -> web.Response:
    """The operator found an unknown caller by searching: the call is theirs from now on."""
    principal = require(request)
    deps = request.app[DEPS]
    board = request.app[BOARD]
    linkedid = request.match_info["linkedid"]
    call = board.calls.get(linkedid)
    if call is None or call.agent_id != principal.agent_id:
        raise forbidden("bind a contact to a call that is not yours")
    body = await read_json(request)
    contact_id = body.get("contact_id")
    if not isinstance(contact_id, int) or isinstance(contact_id, bool):
        raise invalid("contact_id", "must be a number")
    if not await _may_open(request, principal, contact_id):
        # binding a hit to one's own live call is opening it for the caller on the line
        if _open_searched(request, principal, contact_id, "caller_on_line") is None:
            raise ApiError(403, "auth.forbidden", "search for the contact first")
    try:
        async with deps.db.session() as session:
            card = await contacts.view_card(
                session,
                contact_id,
                now=deps.clock.now(),
                user_id=principal.user_id,
                remote_addr=client_address(request),
                reason="call",
            )
    except LookupError:
        raise not_found(f"contact {contact_id}") from None
    call.contact_id = contact_id
    call.card = card.to_dict()
    await InteractionLog(deps.db).call_updated(linkedid, at=deps.clock.now(), contact_id=contact_id)
    return web.json_response(call.card)


async def get_card(request: web.Request) -> web.Response:
    principal = require(request)
    contact_id = path_id(request, "contact_id")
    why = await _open_reason(request, principal, contact_id)
    if why is None:
        why = _open_searched(request, principal, contact_id, request.query.get("purpose"))
    if why is None:
        raise ApiError(403, "auth.forbidden", "this card was neither offered to you nor searched")
    deps = request.app[DEPS]
    try:
        async with deps.db.session() as session:
            card = await contacts.view_card(
                session,
                contact_id,
                now=deps.clock.now(),
                user_id=principal.user_id,
                remote_addr=client_address(request),
                **why,  # the audit reason is the server's, never the client's
            )
    except LookupError:
        raise not_found(f"contact {contact_id}") from None
    return web.json_response(card.to_dict())


def _call_dict(row: Interaction) -> dict[str, Any]:
    return {
        "id": row.id,
        "linkedid": row.linkedid,
        "kind": str(row.kind),
        "direction": str(row.direction),
        "contact_id": row.contact_id,
        "caller_number": row.caller_number,
        "queue": row.queue,
        "agent_id": row.agent_id,
        "started_at": row.started_at.isoformat(),
        "connected_at": row.connected_at.isoformat() if row.connected_at else None,
        "ended_at": row.ended_at.isoformat() if row.ended_at else None,
        "disposition": row.disposition,
        "notes": row.notes,
        "ivr_path": list(row.ivr_path or []),
        "ivr_digits": row.ivr_digits,  # masked by the IVR before storing
        "recording_ref": public_recording_ref(row.recording_ref),  # no server paths
    }


async def get_call(request: web.Request) -> web.Response:
    principal = require(request)
    linkedid = request.match_info["linkedid"]
    call = request.app[BOARD].calls.get(linkedid)
    async with request.app[DEPS].db.session() as session:
        row = (
            await session.execute(select(Interaction).where(Interaction.linkedid == linkedid))
        ).scalar_one_or_none()
    mine = (call is not None and call.agent_id == principal.agent_id) or (
        row is not None and row.agent_id == principal.user_id
    )
    if not (mine or principal.is_supervisor):
        raise ApiError(403, "auth.forbidden", "not your call")
    if row is None:
        raise not_found(f"call {linkedid}")
    return web.json_response(_call_dict(row))


async def list_interactions(request: web.Request) -> web.Response:
    principal = require(request)
    query = select(Interaction).order_by(Interaction.started_at.desc()).limit(100)
    contact = query_id(request, "contact_id")
    if contact is not None:
        if not await _may_open(request, principal, contact):
            raise ApiError(403, "auth.forbidden", "this contact was not offered to you")
        query = query.where(Interaction.contact_id == contact)
    elif not principal.is_supervisor:
        query = query.where(Interaction.agent_id == principal.user_id)
    async with request.app[DEPS].db.session() as session:
        rows = (await session.execute(query)).scalars().all()
    return web.json_response({"items": [_call_dict(r) for r in rows]})


async def list_tasks(request: web.Request) -> web.Response:
    """Your tasks, and the unassigned tasks of the queues you serve (`queue`, repeatable);
    a queue you do not serve is refused. Supervisors: also their team's; admins: all."""
    principal = require(request)
    deps = request.app[DEPS]
    queues = [q for q in request.query.getall("queue", []) if q]
    async with deps.db.session() as session:
        scope = await task_scope(session, principal.user_id)
        foreign = [q for q in queues if not (scope.everything or q in scope.queues)]
        if foreign:
            raise forbidden(f"see the tasks of queue {foreign[0]!r}, which you do not serve")
        items = await callback_list(
            session, user_id=principal.user_id, queues=queues, now=deps.clock.now()
        )
    return web.json_response({"items": items})


async def finish_task(request: web.Request) -> web.Response:
    """Closes one of your tasks or one of your queues' (audited)."""
    principal = require(request)
    deps = request.app[DEPS]
    task_id = path_id(request, "task_id")
    async with deps.db.session() as session:
        task = await session.get(Task, task_id)
        if task is None:
            raise not_found(f"task {task_id}")
        scope = await task_scope(session, principal.user_id)
        # the queue of the call on the desk counts too: its tasks are shown beside it
        on_desk = request.app[BOARD].agent(principal.agent_id).queue
        desk_queue = bool(on_desk) and task.owner_agent_id is None and task.owner_queue == on_desk
        if not (scope.allows(task) or desk_queue):
            raise ApiError(403, "auth.forbidden", "not your task, nor one of your queues'")
        await complete_task(session, task_id, at=deps.clock.now())
        audit.record(
            session,
            at=deps.clock.now(),
            user_id=principal.user_id,
            action="complete",
            object_type="task",
            object_id=task_id,
            remote_addr=client_address(request),
            owner_agent_id=task.owner_agent_id,
            owner_queue=task.owner_queue,
        )
        await session.commit()
    return web.json_response({"ok": True})


ROUTES = (
    ApiRoute("GET", "/api/me", me, "The signed-in user", "operator"),
    ApiRoute(
        "GET",
        "/api/contacts",
        search_contacts,
        "Identify a caller: at least 3 letters of a name, 4 digits of a number, or an exact"
        " account reference (else 422 search.query_too_short); a page of hits (name, masked"
        " numbers, debt references); rate-limited per user (429 with Retry-After); audited",
        "operator",
        query=(("q", "name, phone number or reference"),),
    ),
    ApiRoute(
        "POST",
        "/api/contacts",
        create_contact,
        "Create a contact (optionally bound to your current call); a number that is an existing"
        " contact's is refused with 409 contact.number_taken unless confirm_shared_number"
        " (audited)",
        "operator",
        body=json_body(
            first_name=STRING,
            last_name=STRING,
            phone=STRING,
            linkedid=STRING,
            confirm_shared_number=BOOLEAN,
        ),
    ),
    ApiRoute(
        "GET",
        "/api/contacts/{contact_id}/card",
        get_card,
        "A contact's card (audited). A card found only by a search needs purpose ="
        " caller_on_line | callback | payment (else 422 search.purpose_needed); it then stays"
        " open to you for [privacy] search_grant_ttl_s, at most search_grants_max at once (429)",
        "operator",
        query=(("purpose", "why you open a card found by a search"),),
    ),
    ApiRoute("GET", "/api/calls/{linkedid}", get_call, "One call by its Linkedid", "operator"),
    ApiRoute(
        "POST",
        "/api/calls/{linkedid}/contact",
        bind_contact,
        "Bind a contact you searched for to your current call",
        "operator",
        body=json_body(contact_id={"type": "integer"}),
    ),
    ApiRoute(
        "POST",
        "/api/calls/{linkedid}/disposition",
        wrapup.save_disposition,
        "Save your disposition of a call, once (a repeat with the same key answers the first"
        " result; another key is refused with 409 disposition.already_saved)",
        "operator",
        body=json_body(
            key=STRING, disposition=STRING, notes=STRING, promise=OBJECT, callback=OBJECT
        ),
    ),
    ApiRoute(
        "PUT",
        "/api/calls/{linkedid}/disposition",
        wrapup.correct_disposition,
        "Correct a saved disposition: it replaces the earlier one (its promise and callback are"
        " cancelled). Its operator within [dispositions] correction_window_s of saving;"
        " supervisors and administrators any time (user_id: whose, if several)",
        "operator",
        body=json_body(
            key=STRING,
            disposition=STRING,
            notes=STRING,
            promise=OBJECT,
            callback=OBJECT,
            reason=STRING,
            user_id=INTEGER,
        ),
    ),
    ApiRoute(
        "GET",
        "/api/interactions",
        list_interactions,
        "Interactions: your own, or a contact's",
        "operator",
        query=(("contact_id", "only this contact's"),),
    ),
    ApiRoute(
        "GET",
        "/api/tasks",
        list_tasks,
        "Your callbacks and tasks due within a week",
        "operator",
        query=(("queue", "also this queue's unassigned tasks, if you serve it (repeatable)"),),
    ),
    ApiRoute(
        "POST",
        "/api/tasks/{task_id}/done",
        finish_task,
        "Mark one of your (or your queues') tasks done (audited)",
        "operator",
        body=json_body(),
    ),
)
