"""Word error rate: how far a transcript is from what was said (edit distance over words)."""

from __future__ import annotations

import re

_TOKEN = re.compile(r"[a-z0-9']+")


def words_of(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(substitutions + deletions + insertions, number of reference words)."""
    ref, hyp = words_of(reference), words_of(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, 1):
        previous, row = row, [i, *([0] * len(hyp))]
        for j, hyp_word in enumerate(hyp, 1):
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word))
    return row[len(hyp)], len(ref)


def word_error_rate(pairs: list[tuple[str, str]]) -> float:
    """Corpus WER over (reference, hypothesis) pairs: total errors over total reference words."""
    errors = total = 0
    for reference, hypothesis in pairs:
        e, n = word_errors(reference, hypothesis)
        errors, total = errors + e, total + n
    if total == 0:
        raise ValueError("word error rate needs at least one reference word")
    return errors / total
