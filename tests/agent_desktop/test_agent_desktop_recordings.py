"""Recordings through the desktop's HTTP API: byte ranges, who may hear what, the audit trail,
transcripts, search (escaping, scope) and the supervisor's alerts, live over the websocket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select, update

from agent_desktop.app import create_app
from crm_core.models import AuditEntry
from recordings.events import TranscriptReady
from recordings.tables import Recording
from tests.agent_desktop.test_agent_desktop_recordings_support import (
    RecordedCalls,
    deps_with_recordings,
    put_in_team,
    recorded_calls,
)

OP1_SAID = "hello i filed for bankruptcy so please stop calling me my lawyer knows"
OP2_SAID = "i will pay the bankrupt estate on friday"
HOSTILE_SAID = "<img src=x onerror=alert(1)> bankrupt </mark><script>"


@pytest.fixture
async def calls(env, tmp_path: Path) -> RecordedCalls:
    return recorded_calls(tmp_path / "recordings", env.db, env.bus)


@pytest.fixture
async def rec_client(env, desk_deps, calls: RecordedCalls) -> AsyncIterator[TestClient]:
    app = create_app(deps_with_recordings(desk_deps(env), calls.directory))
    async with TestClient(TestServer(app)) as client:
        yield client


@pytest.fixture
async def two_calls(env, calls: RecordedCalls) -> dict[str, Recording]:
    """op1's call (op1 is in sup's team) and op2's call (no team), both transcribed."""
    await put_in_team(env.db, env.users["op1"], env.users["sup"])
    now = env.clock.now()
    op1 = await calls.call(
        "L-op1",
        agent="op1",
        agent_id=env.users["op1"],
        contact_id=env.contact_id,
        started_at=now - timedelta(days=2),
        said=OP1_SAID,
    )
    op2 = await calls.call(
        "L-op2",
        agent="op2",
        agent_id=env.users["op2"],
        contact_id=env.contact_id,
        started_at=now - timedelta(days=1),
        said=OP2_SAID,
        campaign="legal",
    )
    return {"op1": op1, "op2": op2}


async def audits(env, action: str | None = None) -> list[AuditEntry]:
    async with env.db.session() as session:
        query = select(AuditEntry).where(AuditEntry.object_type.in_(("recording", "transcript")))
        if action is not None:
            query = query.where(AuditEntry.action == action)
        return list((await session.scalars(query.order_by(AuditEntry.id))).all())


async def error_code(response: Any) -> str:
    return (await response.json())["error"]["code"]


async def test_audio_is_served_in_byte_ranges(
    env, rec_client, sign_in, two_calls, calls: RecordedCalls
) -> None:
    await sign_in(rec_client, "op1")
    recording = two_calls["op1"]
    data = (calls.directory / recording.path).read_bytes()
    size = len(data)
    url = f"/api/recordings/{recording.id}/audio"

    whole = await rec_client.get(url)
    assert whole.status == 200
    assert whole.headers["Content-Type"] == "audio/wav"
    assert whole.headers["Accept-Ranges"] == "bytes"
    assert whole.headers["ETag"] == f'"{recording.sha256}"'
    assert await whole.read() == data

    first = await rec_client.get(url, headers={"Range": "bytes=0-43"})  # the WAV header
    assert first.status == 206
    assert first.headers["Content-Range"] == f"bytes 0-43/{size}"
    assert first.headers["Content-Length"] == "44"
    body = await first.read()
    assert body == data[:44] and body.startswith(b"RIFF")

    middle = await rec_client.get(url, headers={"Range": "bytes=1000-70999"})
    assert middle.status == 206
    assert middle.headers["Content-Range"] == f"bytes 1000-70999/{size}"
    assert await middle.read() == data[1000:71000]  # more than one 64 KiB chunk

    suffix = await rec_client.get(url, headers={"Range": "bytes=-500"})
    assert suffix.status == 206
    assert suffix.headers["Content-Range"] == f"bytes {size - 500}-{size - 1}/{size}"
    assert await suffix.read() == data[-500:]

    open_ended = await rec_client.get(url, headers={"Range": f"bytes={size - 10}-"})
    assert open_ended.status == 206 and await open_ended.read() == data[-10:]

    stale = await rec_client.get(url, headers={"Range": "bytes=0-9", "If-Range": '"old"'})
    assert stale.status == 200 and await stale.read() == data  # changed file: send it whole

    for bad in (f"bytes={size}-", "bytes=500-100", "bytes=-0", "bytes=abc", "bytes=0-1,5-9"):
        refused = await rec_client.get(url, headers={"Range": bad})
        assert refused.status == 416, bad
        assert refused.headers["Content-Range"] == f"bytes */{size}"
        assert await error_code(refused) == "recordings.bad_range"
    assert len(await audits(env, "playback")) == 6  # one per range served; the 416s: none


@pytest.mark.parametrize(
    ("username", "owner", "status"),
    [
        ("op1", "op1", 200),  # own call
        ("op2", "op1", 403),  # another operator's call
        ("sup", "op1", 200),  # a call of the supervisor's team
        ("sup", "op2", 403),  # not the supervisor's team
        ("admin", "op2", 200),
    ],
)
async def test_who_may_hear_a_recording(
    env, rec_client, sign_in, two_calls, username: str, owner: str, status: int
) -> None:
    await sign_in(rec_client, username)
    recording = two_calls[owner]
    for part in ("audio", "transcript"):
        response = await rec_client.get(f"/api/recordings/{recording.id}/{part}")
        assert response.status == status, (username, owner, part)
        if status == 403:
            assert await error_code(response) == "auth.forbidden"
    expected = 2 if status == 200 else 0
    assert len(await audits(env)) == expected  # refused requests leave no audit row


async def test_unknown_missing_and_signed_out(env, rec_client, sign_in, calls) -> None:
    assert (await rec_client.get("/api/recordings/1/audio")).status == 401
    await sign_in(rec_client, "op1")
    unknown = await rec_client.get("/api/recordings/999/audio")
    assert unknown.status == 404 and await error_code(unknown) == "not_found"
    assert (await rec_client.get("/api/recordings/abc/audio")).status == 404
    missing = await calls.call(
        "L-missing",
        agent="op1",
        agent_id=env.users["op1"],
        contact_id=env.contact_id,
        started_at=env.clock.now(),
        said=None,
        with_file=False,
    )
    gone = await rec_client.get(f"/api/recordings/{missing.id}/audio")
    assert gone.status == 410
    assert await error_code(gone) == "recordings.unavailable"


async def test_a_stored_path_outside_the_store_is_not_followed(
    env, rec_client, sign_in, two_calls, calls
) -> None:
    secret = calls.directory.parent / "secret.wav"
    secret.write_bytes(b"RIFF not yours")
    async with env.db.session() as session:
        await session.execute(
            update(Recording)
            .where(Recording.id == two_calls["op1"].id)
            .values(path="../secret.wav")
        )
        await session.commit()
    await sign_in(rec_client, "op1")
    response = await rec_client.get(f"/api/recordings/{two_calls['op1'].id}/audio")
    assert response.status == 410
    assert await error_code(response) == "recordings.unavailable"


async def test_playback_download_and_view_are_audited(env, rec_client, sign_in, two_calls) -> None:
    await sign_in(rec_client, "sup")
    recording = two_calls["op1"]
    url = f"/api/recordings/{recording.id}"
    assert (await rec_client.get(url + "/audio", headers={"Range": "bytes=0-99"})).status == 206
    download = await rec_client.get(url + "/audio?download=1")
    assert download.status == 200
    assert download.headers["Content-Disposition"] == 'attachment; filename="call-L-op1.wav"'
    assert (await rec_client.get(url + "/transcript")).status == 200
    rows = await audits(env)
    assert [(r.action, r.object_type) for r in rows] == [
        ("playback", "recording"),
        ("download", "recording"),
        ("view", "transcript"),
    ]
    assert {r.user_id for r in rows} == {env.users["sup"]}
    assert {r.object_id for r in rows} == {str(recording.id)}
    assert {r.remote_addr for r in rows} == {"127.0.0.1"}
    assert rows[0].detail["range"] == f"bytes 0-99/{recording.size_bytes}"
    assert rows[0].detail["linkedid"] == "L-op1"


async def test_transcript_has_words_pauses_and_keyword_times(
    rec_client, sign_in, two_calls
) -> None:
    await sign_in(rec_client, "op1")
    body = await (await rec_client.get(f"/api/recordings/{two_calls['op1'].id}/transcript")).json()
    words = body["words"]
    assert [w["text"] for w in words] == OP1_SAID.split()
    assert words[0] == {
        "text": "hello",
        "start": 0.3,
        "end": 0.65,
        "confidence": 0.92,
        "channel": 0,
    }
    assert words[1]["confidence"] == 0.4
    assert body["pauses"] == [{"start": 4.5, "end": 5.0}]
    assert body["flags"] == ["bankrupt", "lawyer", "stop calling"]
    starts = {k["keyword"]: k["start"] for k in body["keywords"]}
    assert starts["bankrupt"] == pytest.approx(0.3 + 4 * 0.45)  # "bankruptcy", the 5th word
    assert body["audio_url"] == f"/api/recordings/{two_calls['op1'].id}/audio"


async def test_search_hits_are_scoped_timed_and_plain_text(
    env, rec_client, sign_in, two_calls, calls
) -> None:
    hostile = await calls.call(
        "L-hostile",
        agent="op1",
        agent_id=env.users["op1"],
        contact_id=env.contact_id,
        started_at=env.clock.now(),
        said=HOSTILE_SAID,
    )
    await sign_in(rec_client, "op1")
    response = await rec_client.get("/api/recordings/search", params={"q": "bankrupt"})
    assert response.status == 200
    items = {item["recording_id"]: item for item in (await response.json())["items"]}
    assert set(items) == {two_calls["op1"].id, hostile.id}  # not op2's call
    op1 = items[two_calls["op1"].id]
    assert op1["start"] == pytest.approx(0.3 + 4 * 0.45)
    assert {"text": "bankruptcy", "hit": True} in op1["fragments"]
    fragments = items[hostile.id]["fragments"]
    text = "".join(f["text"] for f in fragments)
    assert "<img src=x onerror=alert(1)>" in text  # raw text for the page's text nodes
    assert [f["text"] for f in fragments if f["hit"]] == ["bankrupt"]

    search_audit = await _search_audits(env)
    assert search_audit[-1].detail == {"q": "bankrupt", "hits": 2}


async def test_search_finds_only_calls_you_may_hear(rec_client, sign_in, two_calls) -> None:
    await sign_in(rec_client, "op2")
    mine = await (await rec_client.get("/api/recordings/search?q=bankrupt")).json()
    assert [item["recording_id"] for item in mine["items"]] == [two_calls["op2"].id]
    empty = await rec_client.get("/api/recordings/search?q=%20%22%20")
    assert empty.status == 422 and await error_code(empty) == "invalid_input"


async def _search_audits(env) -> list[AuditEntry]:
    async with env.db.session() as session:
        query = select(AuditEntry).where(AuditEntry.action == "search").order_by(AuditEntry.id)
        return list((await session.scalars(query)).all())


async def test_contact_recordings_show_flags_to_all_and_audio_to_the_allowed(
    env, rec_client, sign_in, two_calls
) -> None:
    await sign_in(rec_client, "op1")
    body = await (await rec_client.get(f"/api/recordings?contact_id={env.contact_id}")).json()
    assert [(i["linkedid"], i["playable"]) for i in body["items"]] == [
        ("L-op2", False),
        ("L-op1", True),
    ]
    assert body["flags"] == ["bankrupt", "lawyer", "stop calling"]
    assert (await rec_client.get("/api/recordings/alerts")).status == 403  # supervisors only
    other = await rec_client.get(f"/api/recordings?contact_id={env.xss_contact_id}")
    assert other.status == 403  # a card that was never offered to op1
    bad = await rec_client.get("/api/recordings?contact_id=x")
    assert bad.status == 422


async def test_supervisor_sees_recording_alerts_live(env, rec_client, sign_in, calls) -> None:
    await sign_in(rec_client, "sup")
    origin = str(rec_client.make_url("/")).rstrip("/")
    ws = await rec_client.ws_connect("/ws?page=panel", headers={"Origin": origin})
    assert json.loads((await ws.receive()).data)["type"] == "hello"
    missing = await calls.call(
        "L-lost",
        agent="op1",
        agent_id=env.users["op1"],
        contact_id=env.contact_id,
        started_at=env.clock.now(),
        said=None,
        with_file=False,
    )
    async with asyncio.timeout(20):
        while True:
            message = json.loads((await ws.receive()).data)
            if message["type"] == "recording_alert":
                break
    assert message["linkedid"] == "L-lost" and message["problem"] == "missing"
    body = await (await rec_client.get("/api/recordings/alerts")).json()
    assert [(a["recording_id"], a["status"], a["checks"]) for a in body["alerts"]] == [
        (missing.id, "missing", 1)
    ]
    assert str(calls.directory) in body["alerts"][0]["problem"]  # names the file not found

    # A transcript with keyword flags is pushed too; one without flags is not news.
    for flags in ((), ("lawyer",)):
        env.bus.publish(
            TranscriptReady(
                linkedid="L-x",
                at=env.clock.now(),
                recording_id=7,
                engine="vosk",
                words=12,
                flags=flags,
            )
        )
    async with asyncio.timeout(20):
        while (message := json.loads((await ws.receive()).data))["type"] != "recording_flags":
            pass
    assert message == {"type": "recording_flags", "linkedid": "L-x", "flags": ["lawyer"]}
    await ws.close()


async def test_openapi_lists_the_recording_endpoints(rec_client, sign_in) -> None:
    await sign_in(rec_client, "op1")  # the document is for signed-in users (SECURITY.md)
    paths = (await (await rec_client.get("/api/openapi.json")).json())["paths"]
    for path in (
        "/api/recordings",
        "/api/recordings/search",
        "/api/recordings/alerts",
        "/api/recordings/{recording_id}/audio",
        "/api/recordings/{recording_id}/transcript",
    ):
        assert "get" in paths[path], path
