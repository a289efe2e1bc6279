"""Full-text search over transcripts, with highlighted hits and the time of the first hit word.

SQLite: an FTS5 table keyed by recording id. PostgreSQL: to_tsvector over the transcript text
with a GIN index. Both are created with the `transcripts` table (DDL events in tables.py), so
the test schema and the migration get them the same way. The 'simple' configuration (no stemming,
no stop words) is used on PostgreSQL because transcripts are in several languages.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.db import Database
from recordings.tables import TranscriptRecord
from recordings.transcript import Transcript

_OPEN, _CLOSE = "\x02", "\x03"  # hit markers no transcript contains
_TOKEN = re.compile(r"\w+", re.UNICODE)
MAX_RESULTS = 200


class SearchQueryError(ValueError):
    """The search text has no word to look for."""


@dataclass(frozen=True, slots=True)
class SearchHit:
    recording_id: int
    linkedid: str
    interaction_id: int | None
    fragments: tuple[tuple[str, bool], ...]  # (text, is a hit) in order: the highlighted snippet
    start: float | None  # seconds into the recording of the first hit word: play from here
    flags: tuple[str, ...]

    def snippet_html(self) -> str:
        """The snippet with hits in <mark>, everything else escaped."""
        return "".join(
            f"<mark>{html.escape(part)}</mark>" if hit else html.escape(part)
            for part, hit in self.fragments
        )


def query_terms(query: str) -> list[str]:
    terms = _TOKEN.findall(query.casefold())
    if not terms:
        raise SearchQueryError(f"search text {query!r} has no word to look for")
    return terms


async def index_transcript(session: AsyncSession, recording_id: int, body: str) -> None:
    """Keep the SQLite FTS table in step with `transcripts` (PostgreSQL indexes the column)."""
    if session.get_bind().dialect.name != "sqlite":
        return
    await session.execute(
        text("DELETE FROM transcript_search WHERE rowid = :id"), {"id": recording_id}
    )
    await session.execute(
        text("INSERT INTO transcript_search (rowid, text) VALUES (:id, :t)"),
        {"id": recording_id, "t": body},
    )


async def save_transcript(
    session: AsyncSession,
    recording_id: int,
    transcript: Transcript,
    flags: list[str],
    now: datetime,
) -> None:
    """Store (or replace) a recording's transcript and make it searchable, in the caller's
    transaction."""
    record = await session.get(TranscriptRecord, recording_id)
    if record is None:
        record = TranscriptRecord(recording_id=recording_id, created_at=now)
        session.add(record)
    record.engine, record.language = transcript.engine, transcript.language
    record.text, record.body, record.flags = transcript.text, transcript.to_dict(), flags
    record.created_at = now
    await index_transcript(session, recording_id, transcript.text)


async def remove_from_index(session: AsyncSession, recording_id: int) -> None:
    if session.get_bind().dialect.name == "sqlite":
        await session.execute(
            text("DELETE FROM transcript_search WHERE rowid = :id"), {"id": recording_id}
        )


async def search(
    db: Database, query: str, *, campaign: str | None = None, limit: int = 50
) -> list[SearchHit]:
    """Recordings whose transcript has every word of `query` (each word as a prefix)."""
    terms = query_terms(query)
    limit = max(1, min(limit, MAX_RESULTS))
    params: dict[str, Any] = {"limit": limit, "campaign": campaign}
    if db.dialect == "sqlite":
        params["match"] = " ".join('"' + term.replace('"', '""') + '"*' for term in terms)
        sql = (
            "SELECT r.id, r.linkedid, r.interaction_id, t.body, t.flags, "
            f"snippet(transcript_search, 0, '{_OPEN}', '{_CLOSE}', ' … ', 24) AS snip "
            "FROM transcript_search JOIN recordings r ON r.id = transcript_search.rowid "
            "JOIN transcripts t ON t.recording_id = r.id "
            "WHERE transcript_search MATCH :match "
            "AND (:campaign IS NULL OR r.campaign = :campaign) "
            "ORDER BY rank LIMIT :limit"
        )
    else:
        params["tsquery"] = " & ".join(_pg_term(term) + ":*" for term in terms)
        sql = (
            "SELECT r.id, r.linkedid, r.interaction_id, t.body, t.flags, "
            "ts_headline('simple', t.text, to_tsquery('simple', :tsquery), "
            f"'StartSel={_OPEN}, StopSel={_CLOSE}, MaxWords=30, MinWords=10') AS snip "
            "FROM transcripts t JOIN recordings r ON r.id = t.recording_id "
            "WHERE to_tsvector('simple', t.text) @@ to_tsquery('simple', :tsquery) "
            "AND (CAST(:campaign AS TEXT) IS NULL OR r.campaign = :campaign) "
            "ORDER BY ts_rank(to_tsvector('simple', t.text), to_tsquery('simple', :tsquery)) "
            "DESC, r.id DESC LIMIT :limit"
        )
    async with db.session() as session:
        rows = (await session.execute(text(sql), params)).all()
    hits = []
    for row in rows:
        body = row.body if isinstance(row.body, dict) else json.loads(row.body)
        flags = row.flags if isinstance(row.flags, list) else json.loads(row.flags)
        hits.append(
            SearchHit(
                recording_id=row.id,
                linkedid=row.linkedid,
                interaction_id=row.interaction_id,
                fragments=_fragments(row.snip),
                start=first_hit_time(Transcript.from_dict(body), terms),
                flags=tuple(flags),
            )
        )
    return hits


def first_hit_time(transcript: Transcript, terms: list[str]) -> float | None:
    """Start of the first word that matches a search term, so playback can begin there."""
    for word in transcript.words:
        folded = word.text.casefold()
        if any(folded.startswith(term) for term in terms):
            return word.start
    return None


def _pg_term(term: str) -> str:
    # to_tsquery syntax: quote the lexeme so punctuation in it is not read as an operator.
    return "'" + term.replace("'", "''").replace("\\", "\\\\") + "'"


def _fragments(snippet: str) -> tuple[tuple[str, bool], ...]:
    parts: list[tuple[str, bool]] = []
    for piece in re.split(f"({_OPEN}.*?{_CLOSE})", snippet):
        if not piece:
            continue
        if piece.startswith(_OPEN):
            parts.append((piece[1:-1], True))
        else:
            parts.append((piece, False))
    return tuple(parts)
