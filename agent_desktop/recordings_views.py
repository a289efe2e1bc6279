"""Call recordings on the desktop: audio in byte ranges, transcripts, search, supervisor alerts.

Who may hear what is `recordings.access.may_hear` (operators: their own calls; supervisors: their
team's; admins: all); every byte served and every transcript shown is written to the audit log.
RecordingAlert events are pushed to the supervisor panels over the hub's panel topic.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_desktop.api_routes import ApiRoute
from agent_desktop.audit_trail import audit_request
from agent_desktop.board import PANEL
from agent_desktop.errors import (
    ApiError,
    forbidden,
    invalid,
    not_found,
    path_id,
    plain_text,
    query_id,
    query_int,
)
from agent_desktop.hub import Hub
from agent_desktop.keys import BOARD, DEPS, HUB, RENDERER, SEARCH_SCOPE
from agent_desktop.ports import agent_id_for
from agent_desktop.principal import Principal
from agent_desktop.security import SESSION, current, require, require_supervisor
from crm_core.bus import Bus, Overflow
from crm_core.card import public_recording_ref
from crm_core.models import Interaction, User
from recordings.access import (
    Listener,
    RangeNotSatisfiable,
    RecordingFacts,
    may_hear,
    parse_range,
    stream,
)
from recordings.events import RecordingAlert, RecordingStored, TranscriptReady
from recordings.keywords import find_keywords
from recordings.search import MAX_RESULTS, SearchQueryError, search
from recordings.tables import Recording, RecordingStatus, TranscriptRecord
from recordings.transcript import Transcript

RETRY_STATUSES = (RecordingStatus.MISSING, RecordingStatus.CORRUPT)
RECENT_FLAGS = 100  # transcripts looked at for the supervisor's keyword list


# -- access ----------------------------------------------------------------------------------


async def _listener(session: AsyncSession, principal: Principal) -> Listener:
    active = await session.scalar(select(User.active).where(User.id == principal.user_id))
    return Listener(principal.user_id, principal.agent_id, principal.role.value, bool(active))


async def _facts(
    session: AsyncSession, recordings: Iterable[Recording]
) -> dict[int, RecordingFacts]:
    """The facts `may_hear` needs, for many recordings in one query for their operators' teams.
    A recording names its operator by agent id (what routing and the dialer report on connect);
    agent ids are user ids (agent_desktop.ports.agent_id_for)."""
    rows = list(recordings)
    user_ids = {int(row.agent) for row in rows if row.agent.isdigit()}
    users: dict[str, tuple[str, int | None]] = {}
    if user_ids:
        result = await session.execute(
            select(User.id, User.username, User.team_id).where(User.id.in_(user_ids))
        )
        users = {agent_id_for(uid): (name, team) for uid, name, team in result}
    facts = {}
    for row in rows:
        name, team = users.get(row.agent, ("", None))
        facts[row.id] = RecordingFacts(row.agent, team, str(row.status), name)
    return facts


def _refusal(listener: Listener, facts: RecordingFacts, reason: str) -> ApiError:
    """403 for someone else's call; 410 when the listener could hear it but the file is gone."""
    if (
        facts.status != RecordingStatus.STORED
        and may_hear(listener, replace(facts, status=RecordingStatus.STORED.value)).allowed
    ):
        return ApiError(
            410,
            "recordings.unavailable",
            f"the recording is {facts.status}",
            {"status": facts.status},
        )
    return ApiError(403, "auth.forbidden", "you may not hear this recording", {"reason": reason})


async def _audible(request: web.Request) -> tuple[Principal, Recording]:
    """The recording in the path, if the signed-in user may hear it."""
    principal = require(request)
    recording_id = path_id(request, "recording_id")
    async with request.app[DEPS].db.session() as session:
        recording = await session.get(Recording, recording_id)
        if recording is None:
            raise not_found(f"recording {recording_id}")
        listener = await _listener(session, principal)
        facts = (await _facts(session, [recording]))[recording.id]
    decision = may_hear(listener, facts)
    if not decision.allowed:
        raise _refusal(listener, facts, decision.reason)
    return principal, recording


async def _audit(
    request: web.Request,
    principal: Principal,
    action: str,
    kind: str,
    object_id: int | str,
    **detail: Any,
) -> None:
    await audit_request(
        request,
        user_id=principal.user_id,
        action=action,
        object_type=kind,
        object_id=object_id,
        **detail,
    )


def _locate(directory: str, relative: str) -> tuple[Path, int]:
    """The file and its size (runs in a thread); a stored path that leads outside the
    recordings directory is treated as missing rather than followed."""
    base = Path(directory).resolve()
    target = (base / relative).resolve()
    if not target.is_relative_to(base):
        raise FileNotFoundError(f"{relative} is outside the recordings directory")
    return target, target.stat().st_size


# -- audio and transcript --------------------------------------------------------------------


async def recording_audio(request: web.Request) -> web.StreamResponse:
    """The WAV file, whole (200) or one byte range (206); `?download=1` saves it as a file."""
    principal, recording = await _audible(request)
    directory = request.app[DEPS].settings.recordings.directory
    try:
        path, size = await asyncio.to_thread(_locate, directory, recording.path)
    except FileNotFoundError:
        raise ApiError(
            410, "recordings.unavailable", "the recording's file is missing from the store"
        ) from None
    etag = f'"{recording.sha256}"' if recording.sha256 else None
    header = request.headers.get("Range")
    if header is not None and request.headers.get("If-Range", etag) != etag:
        header = None  # the file changed since the player's first request: send it whole
    try:
        byte_range = parse_range(header, size)
    except RangeNotSatisfiable as exc:
        refused = ApiError(416, "recordings.bad_range", str(exc), {"size": size}).response()
        refused.headers["Content-Range"] = f"bytes */{size}"
        refused.headers["Accept-Ranges"] = "bytes"
        return refused
    download = request.query.get("download") == "1"
    served = byte_range.content_range(size) if byte_range else f"bytes 0-{size - 1}/{size}"
    await _audit(
        request,
        principal,
        "download" if download else "playback",
        "recording",
        recording.id,
        linkedid=recording.linkedid,
        range=served,
    )
    response = web.StreamResponse(status=206 if byte_range else 200)
    response.content_type = "audio/wav"
    response.content_length = byte_range.length if byte_range else size
    response.headers["Accept-Ranges"] = "bytes"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if etag:
        response.headers["ETag"] = etag
    if byte_range:
        response.headers["Content-Range"] = byte_range.content_range(size)
    if download:
        name = "".join(c if c.isalnum() or c in "._-" else "_" for c in recording.linkedid)
        response.headers["Content-Disposition"] = f'attachment; filename="call-{name}.wav"'
    await response.prepare(request)
    # A player that seeks drops its request and asks again with a new range: not an error.
    with contextlib.suppress(ConnectionResetError):
        async with contextlib.aclosing(stream(path, byte_range)) as chunks:
            async for chunk in chunks:
                await response.write(chunk)
        await response.write_eof()
    return response


async def recording_transcript(request: web.Request) -> web.Response:
    """Words with times and confidence, the paused stretches, and where each keyword was said."""
    principal, recording = await _audible(request)
    async with request.app[DEPS].db.session() as session:
        record = await session.get(TranscriptRecord, recording.id)
    if record is None:
        raise ApiError(404, "recordings.no_transcript", "this recording is not transcribed yet")
    transcript = Transcript.from_dict(record.body)
    await _audit(
        request, principal, "view", "transcript", recording.id, linkedid=recording.linkedid
    )
    keywords = find_keywords(transcript, tuple(record.flags))
    return web.json_response(
        {
            "recording_id": recording.id,
            "linkedid": recording.linkedid,
            "engine": transcript.engine,
            "language": transcript.language,
            "duration": transcript.duration,
            "words": [word.to_dict() for word in transcript.words],
            "pauses": [{"start": p.start, "end": p.end} for p in transcript.pauses],
            "flags": list(record.flags),
            "keywords": [{"keyword": k.keyword, "start": k.start} for k in keywords],
            "audio_url": f"/api/recordings/{recording.id}/audio",
        }
    )


# -- lists: a contact's calls, search, the supervisor's alerts --------------------------------


def _item(
    recording: Recording, flags: list[str], playable: bool, facts: RecordingFacts | None = None
) -> dict[str, Any]:
    return {
        "recording_id": recording.id,
        "linkedid": recording.linkedid,
        "status": str(recording.status),
        "started_at": recording.started_at.isoformat(),
        "duration_s": recording.duration_s,
        "agent": (facts.agent_name if facts else "") or recording.agent,
        "queue": recording.queue,
        "campaign": recording.campaign,
        "flags": flags,
        "playable": playable,
    }


async def _may_open_contact(request: web.Request, principal: Principal, contact_id: int) -> bool:
    """The card rule of the desk: offered, opened from a search (with a purpose, lately), one of
    your calls, or a supervisor."""
    if principal.is_supervisor or request.app[BOARD].may_open(principal.agent_id, contact_id):
        return True
    if request.app[SEARCH_SCOPE].granted(principal.user_id, contact_id) is not None:
        return True
    async with request.app[DEPS].db.session() as session:
        own = await session.scalar(
            select(Interaction.id)
            .where(Interaction.contact_id == contact_id, Interaction.agent_id == principal.user_id)
            .limit(1)
        )
    return own is not None


async def contact_recordings(request: web.Request) -> web.Response:
    """A debtor's recorded calls, newest first. Keyword flags of all of them are shown (the
    operator must know the debtor said "lawyer"); audio only of those the user may hear."""
    principal = require(request)
    contact_id = query_id(request, "contact_id")
    if contact_id is None:
        raise invalid("contact_id", "must be a number")
    if not await _may_open_contact(request, principal, contact_id):
        raise forbidden("see the recordings of a contact not offered to you")
    async with request.app[DEPS].db.session() as session:
        rows = (
            await session.execute(
                select(Recording, TranscriptRecord.flags)
                .join(Interaction, Interaction.linkedid == Recording.linkedid)
                .outerjoin(TranscriptRecord, TranscriptRecord.recording_id == Recording.id)
                .where(Interaction.contact_id == contact_id)
                .order_by(Recording.started_at.desc())
                .limit(50)
            )
        ).all()
        listener = await _listener(session, principal)
        facts = await _facts(session, [row[0] for row in rows])
    items = [
        _item(rec, list(flags or []), may_hear(listener, facts[rec.id]).allowed, facts[rec.id])
        for rec, flags in rows
    ]
    seen = {flag: None for item in items for flag in item["flags"]}
    return web.json_response({"items": items, "flags": list(seen)})


async def search_recordings(request: web.Request) -> web.Response:
    """Transcript full-text search, limited to the calls the user may hear (audited)."""
    principal = require(request)
    deps = request.app[DEPS]
    query = plain_text(request.query.get("q", ""), "q", 200)
    limit = query_int(request, "limit", 50, low=1, high=MAX_RESULTS)
    try:
        hits = await search(
            deps.db, query, campaign=request.query.get("campaign") or None, limit=MAX_RESULTS
        )
    except SearchQueryError as exc:
        raise invalid("q", str(exc)) from exc
    async with deps.db.session() as session:
        found = (
            await session.scalars(
                select(Recording).where(Recording.id.in_([hit.recording_id for hit in hits]))
            )
        ).all()
        listener = await _listener(session, principal)
        facts = await _facts(session, found)
    by_id = {recording.id: recording for recording in found}
    audible = [
        hit
        for hit in hits
        if hit.recording_id in facts and may_hear(listener, facts[hit.recording_id]).allowed
    ]
    audible = audible[:limit]
    await _audit(request, principal, "search", "transcripts", "", q=query[:200], hits=len(audible))
    items = [
        {
            **_item(by_id[hit.recording_id], list(hit.flags), True, facts[hit.recording_id]),
            "fragments": [{"text": text, "hit": is_hit} for text, is_hit in hit.fragments],
            "start": hit.start,
        }
        for hit in audible
    ]
    return web.json_response({"items": items})


async def recording_alerts(request: web.Request) -> web.Response:
    """The retry list (missing or damaged files) and keyword flags of recent calls."""
    principal = require_supervisor(request)
    async with request.app[DEPS].db.session() as session:
        retry = (
            await session.scalars(
                select(Recording)
                .where(Recording.status.in_(RETRY_STATUSES))
                .order_by(Recording.started_at.desc())
            )
        ).all()
        recent = (
            await session.execute(
                select(Recording, TranscriptRecord.flags)
                .join(TranscriptRecord, TranscriptRecord.recording_id == Recording.id)
                .order_by(TranscriptRecord.created_at.desc())
                .limit(RECENT_FLAGS)
            )
        ).all()
        listener = await _listener(session, principal)
        facts = await _facts(session, [row[0] for row in recent])
    alerts = [
        {
            **_item(recording, [], False),
            "path": public_recording_ref(recording.path),  # never an absolute server path
            "problem": recording.problem,
            "checks": recording.checks,
            "next_check_at": recording.next_check_at.isoformat()
            if recording.next_check_at
            else None,
        }
        for recording in retry
    ]
    flagged = [
        _item(recording, list(flags), True, facts[recording.id])
        for recording, flags in recent
        if flags and may_hear(listener, facts[recording.id]).allowed
    ]
    return web.json_response({"alerts": alerts, "flagged": flagged})


async def recordings_page(request: web.Request) -> web.StreamResponse:
    """Search the transcripts of the calls you may hear; a hit plays from the word found."""
    principal = current(request)
    if principal is None:
        raise web.HTTPFound("/login")
    return request.app[RENDERER].page(
        "recordings.html",
        principal.language,
        user=principal,
        csrf_token=request[SESSION].csrf_token,
        query=request.query.get("q", ""),
    )


# -- live alerts -----------------------------------------------------------------------------


def panel_message(event: RecordingAlert | RecordingStored | TranscriptReady) -> dict[str, Any]:
    """What the supervisor panels are told; they refetch the list (their view is the DB's)."""
    if isinstance(event, RecordingAlert):
        return {
            "type": "recording_alert",
            "linkedid": event.linkedid,
            "recording_id": event.recording_id,
            "problem": str(event.problem),
            "detail": event.detail,
            "checks": event.checks,
        }
    if isinstance(event, RecordingStored):
        return {"type": "recording_stored", "linkedid": event.linkedid}
    return {"type": "recording_flags", "linkedid": event.linkedid, "flags": list(event.flags)}


async def relay_alerts(bus: Bus, hub: Hub) -> None:
    """Until cancelled: recording events the panels care about, pushed on the panel topic."""
    subscription = bus.subscribe(
        "agent_desktop.recordings",
        RecordingAlert,
        RecordingStored,
        TranscriptReady,
        maxsize=1000,
        overflow=Overflow.DROP_OLDEST,
    )
    try:
        async for event in subscription:
            if isinstance(event, TranscriptReady) and not event.flags:
                continue
            if isinstance(event, RecordingAlert | RecordingStored | TranscriptReady):
                hub.publish(PANEL, panel_message(event))
    finally:
        bus.unsubscribe(subscription)


async def _relay_owner(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(relay_alerts(app[DEPS].bus, app[HUB]), name="desktop-recordings")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def setup(app: web.Application) -> None:
    """The search page and the alert relay (the API routes come through ROUTES)."""
    app.router.add_get("/recordings", recordings_page)
    app.cleanup_ctx.append(_relay_owner)


ROUTES = (
    ApiRoute(
        "GET",
        "/api/recordings",
        contact_recordings,
        "A contact's recorded calls with keyword flags and whether you may play each",
        "operator",
        query=(("contact_id", "the contact (debtor)"),),
    ),
    ApiRoute(
        "GET",
        "/api/recordings/search",
        search_recordings,
        "Full-text search over the transcripts of calls you may hear (audited)",
        "operator",
        query=(
            ("q", "words to find (each as a prefix)"),
            ("campaign", "only this campaign's calls"),
            ("limit", "at most this many hits (default 50)"),
        ),
    ),
    ApiRoute(
        "GET",
        "/api/recordings/alerts",
        recording_alerts,
        "Recordings missing or damaged, and keyword flags of recent calls",
        "supervisor",
    ),
    ApiRoute(
        "GET",
        "/api/recordings/{recording_id}/audio",
        recording_audio,
        "The recording as audio/wav; honours Range (206, 416 recordings.bad_range); audited",
        "operator",
        query=(("download", "1 to save as a file (audited as a download)"),),
    ),
    ApiRoute(
        "GET",
        "/api/recordings/{recording_id}/transcript",
        recording_transcript,
        "Words with times and confidence, pauses, keyword positions (audited)",
        "operator",
    ),
)
