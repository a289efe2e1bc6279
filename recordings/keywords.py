"""Keyword flags: phrases a supervisor must hear about ("bankrupt", "lawyer", "stop calling").

A phrase matches consecutive words of the transcript, each word by prefix, so "bankrupt" also
flags "bankruptcy" and "dispute" flags "disputed".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from recordings.transcript import Transcript

_TOKEN = re.compile(r"\w+(?:'\w+)?")


@dataclass(frozen=True, slots=True)
class KeywordHit:
    keyword: str
    start: float  # where the phrase starts, seconds from the start of the recording
    channel: int


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.casefold())


def find_keywords(transcript: Transcript, keywords: tuple[str, ...]) -> list[KeywordHit]:
    """Every occurrence of every keyword, in time order."""
    words = [(w.text.casefold(), w) for w in transcript.words]
    hits: list[KeywordHit] = []
    for keyword in keywords:
        phrase = _tokens(keyword)
        if not phrase:
            continue
        for i in range(len(words) - len(phrase) + 1):
            window = words[i : i + len(phrase)]
            if all(text.startswith(part) for (text, _), part in zip(window, phrase, strict=True)):
                first = window[0][1]
                hits.append(KeywordHit(keyword=keyword, start=first.start, channel=first.channel))
    return sorted(hits, key=lambda hit: hit.start)


def flags(transcript: Transcript, keywords: tuple[str, ...]) -> list[str]:
    """The keywords found at least once, in the order configured."""
    found = {hit.keyword for hit in find_keywords(transcript, keywords)}
    return [keyword for keyword in keywords if keyword in found]
