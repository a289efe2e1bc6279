"""Transcript search on both backends (SQLite FTS5 and PostgreSQL to_tsvector): highlighted
snippets, the time of the hit word for playback, the campaign filter, hostile query text."""

from __future__ import annotations

import pytest

from crm_core.db import Database
from recordings.keywords import find_keywords, flags
from recordings.search import SearchQueryError, save_transcript, search
from recordings.tables import Recording, RecordingStatus
from recordings.transcript import Transcript, Word
from tests.recordings.recordings_support import T0


def spoken(text: str, start: float = 0.5, step: float = 0.4) -> Transcript:
    words = tuple(
        Word(w, start + i * step, start + i * step + 0.3, 0.9, channel=i % 2)
        for i, w in enumerate(text.split())
    )
    return Transcript(engine="pocketsphinx", language="en", duration=30.0, words=words)


CALLS = {
    "A": ("collect-q4", "hello i filed for bankruptcy last month so please stop calling me"),
    "B": ("collect-q4", "i will pay on friday my account number is nine eight three five"),
    "C": ("legal", "my lawyer says i dispute the balance"),
}


async def seed(db: Database) -> dict[str, int]:
    ids = {}
    async with db.session() as session:
        for linkedid, (campaign, text) in CALLS.items():
            recording = Recording(
                linkedid=linkedid,
                status=RecordingStatus.STORED,
                path=f"{linkedid}.wav",
                channel="c",
                campaign=campaign,
                parts=[],
                pauses=[],
                started_at=T0,
            )
            session.add(recording)
            await session.flush()
            transcript = spoken(text)
            await save_transcript(
                session,
                recording.id,
                transcript,
                flags(transcript, ("bankrupt", "lawyer", "dispute", "stop calling")),
                T0,
            )
            ids[linkedid] = recording.id
        await session.commit()
    return ids


async def test_search_finds_highlights_and_gives_the_word_time(db: Database) -> None:
    await seed(db)
    [hit] = await search(db, "friday")
    assert hit.linkedid == "B"
    assert ("friday", True) in hit.fragments
    assert hit.start == pytest.approx(0.5 + 4 * 0.4)  # "friday" is the fifth word
    assert "<mark>friday</mark>" in hit.snippet_html()

    [hit] = await search(db, "bankrupt")  # a prefix finds "bankruptcy"
    assert hit.linkedid == "A" and hit.flags == ("bankrupt", "stop calling")
    assert ("bankruptcy", True) in hit.fragments

    assert {h.linkedid for h in await search(db, "i")} == {"A", "B", "C"}
    assert [h.linkedid for h in await search(db, "dispute lawyer")] == ["C"]
    assert await search(db, "lawyer friday") == []
    assert [h.linkedid for h in await search(db, "i", campaign="legal")] == ["C"]


async def test_search_text_is_never_query_syntax(db: Database) -> None:
    await seed(db)
    for hostile in ['"friday', "friday*) (", "friday' | !", "friday:*", "-friday^"]:
        assert [h.linkedid for h in await search(db, hostile)] == ["B"]
    with pytest.raises(SearchQueryError):
        await search(db, '"*()')


async def test_replacing_a_transcript_replaces_what_is_found(db: Database) -> None:
    ids = await seed(db)
    async with db.session() as session:
        await save_transcript(session, ids["B"], spoken("no payment this week"), [], T0)
        await session.commit()
    assert await search(db, "friday") == []
    assert [h.linkedid for h in await search(db, "payment")] == ["B"]


def test_keyword_phrases_match_consecutive_words_by_prefix() -> None:
    transcript = spoken("please stop calling me i am disputed and bankrupted stop now calling")
    hits = find_keywords(transcript, ("stop calling", "dispute", "bankrupt", "lawyer"))
    assert [(h.keyword, h.start) for h in hits] == [
        ("stop calling", pytest.approx(0.9)),
        ("dispute", pytest.approx(0.5 + 6 * 0.4)),
        ("bankrupt", pytest.approx(0.5 + 8 * 0.4)),
    ]
    assert flags(transcript, ("lawyer", "bankrupt", "stop calling")) == ["bankrupt", "stop calling"]
