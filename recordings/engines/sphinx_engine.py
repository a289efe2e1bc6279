"""CMU pocketsphinx 5 with its bundled US English model: the offline default.

Long calls are split at silences by pocketsphinx's own voice-activity segmenter and each
stretch of speech is decoded as one utterance; a little audio is kept around every stretch
because the segmenter cuts into the first phone of a word.
"""

from __future__ import annotations

import io
import re

from recordings.audio import Pcm
from recordings.engines.base import EngineError
from recordings.transcript import Word

_RATE = 16000
_MARGIN = 0.3  # seconds of context kept before and after each speech stretch
_FILLER = re.compile(r"^(<.*>|\[.*\]|\+\+.*\+\+)$")
_ALTERNATE = re.compile(r"\(\d+\)$")  # "friday(2)": second pronunciation in the dictionary


class SphinxDecoder:
    name = "pocketsphinx"
    languages = ("en",)

    def __init__(self) -> None:
        import pocketsphinx

        self._ps = pocketsphinx
        self._decoder = pocketsphinx.Decoder(samprate=_RATE, loglevel="FATAL")
        self._frame_rate = int(self._decoder.config["frate"])

    def rate(self, language: str) -> int:
        return _RATE

    def decode(self, pcm: Pcm, language: str) -> list[Word]:
        if pcm.rate != _RATE:
            raise EngineError(f"pocketsphinx expects {_RATE} Hz audio but got {pcm.rate} Hz")
        samples = pcm.pcm_bytes()
        # Noise and cepstral-mean estimates carry over between utterances; a recording must
        # not be heard differently depending on which call the worker decoded before it.
        self._decoder.reinit_feat()
        words: list[Word] = []
        for start, end in self._speech(samples):
            words += self._decode_stretch(samples[2 * start : 2 * end], start / _RATE)
        return words

    def _speech(self, samples: bytes) -> list[tuple[int, int]]:
        """Sample ranges of speech, widened by the margin and merged where they overlap.

        The segmenter only reports a stretch once it has heard silence after it, so the
        signal is framed with silence on both sides (a line that ends mid-word still counts).
        """
        margin = int(_MARGIN * _RATE)
        total = len(samples) // 2
        padding = bytes(2 * _RATE)
        spans: list[tuple[int, int]] = []
        segmenter = self._ps.Segmenter(sample_rate=_RATE)
        for speech in segmenter.segment(io.BytesIO(padding + samples + padding)):
            start = max(0, int((speech.start_time - 1.0) * _RATE) - margin)
            end = min(total, int((speech.end_time - 1.0) * _RATE) + margin)
            if end <= start:
                continue
            if spans and start <= spans[-1][1]:
                spans[-1] = (spans[-1][0], end)
            else:
                spans.append((start, end))
        return spans

    def _decode_stretch(self, samples: bytes, offset: float) -> list[Word]:
        decoder = self._decoder
        decoder.start_utt()
        decoder.process_raw(samples, full_utt=True)
        decoder.end_utt()
        words = []
        for segment in decoder.seg():
            if _FILLER.match(segment.word):
                continue
            words.append(
                Word(
                    text=_ALTERNATE.sub("", segment.word),
                    start=offset + segment.start_frame / self._frame_rate,
                    end=offset + (segment.end_frame + 1) / self._frame_rate,
                    confidence=float(segment.prob),
                )
            )
        return words
