"""Vosk (Kaldi) recogniser: the production engine, one model directory per language."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from recordings.audio import Pcm
from recordings.engines.base import EngineError
from recordings.transcript import Word

_CHUNK_FRAMES = 8000  # half a second at 16 kHz: results are collected between chunks
_RATE_OPTION = re.compile(r"^--sample-frequency=(\d+)")


def model_rate(model_dir: Path) -> int:
    """The rate the model was trained at, from its conf/mfcc.conf (Kaldi's default 16 kHz)."""
    conf = model_dir / "conf" / "mfcc.conf"
    if conf.is_file():
        for line in conf.read_text().splitlines():
            match = _RATE_OPTION.match(line.strip())
            if match:
                return int(match.group(1))
    return 16000


class VoskDecoder:
    """Loads each language's model once, on first use, and keeps it for the worker's life."""

    name = "vosk"

    def __init__(self, models: dict[str, Path]) -> None:
        import vosk

        vosk.SetLogLevel(-1)
        self._vosk = vosk
        self._dirs = dict(models)
        self._models: dict[str, Any] = {}

    def languages(self) -> list[str]:
        return sorted(self._dirs)

    def load(self, language: str) -> Any:
        if language not in self._models:
            directory = self._dirs.get(language)
            if directory is None:
                raise EngineError(f"no Vosk model configured for language {language!r}")
            if not (directory / "am").is_dir() and not (directory / "final.mdl").is_file():
                raise EngineError(f"Vosk model for {language!r} not found in {directory}")
            self._models[language] = self._vosk.Model(str(directory))
        return self._models[language]

    def rate(self, language: str) -> int:
        directory = self._dirs.get(language)
        if directory is None:
            raise EngineError(f"no Vosk model configured for language {language!r}")
        return model_rate(directory)

    def decode(self, pcm: Pcm, language: str) -> list[Word]:
        recognizer = self._vosk.KaldiRecognizer(self.load(language), pcm.rate)
        recognizer.SetWords(True)
        samples = pcm.pcm_bytes()
        step = 2 * _CHUNK_FRAMES
        words: list[Word] = []
        for offset in range(0, len(samples), step):
            if recognizer.AcceptWaveform(samples[offset : offset + step]):
                words += _words(recognizer.Result())
        words += _words(recognizer.FinalResult())
        return words


def _words(result_json: str) -> list[Word]:
    result = json.loads(result_json)
    return [
        Word(
            text=item["word"],
            start=float(item["start"]),
            end=float(item["end"]),
            confidence=float(item["conf"]),
        )
        for item in result.get("result", [])
    ]
