"""Every prompt the shipped IVR flows and the kit's dialplan play exists in deploy/asterisk/sounds
in English and Russian, as a WAV Asterisk plays (8 kHz, 16-bit, mono PCM), built from
prompts.tsv."""

from __future__ import annotations

import re
import tomllib
import wave
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SOUNDS = REPO / "deploy" / "asterisk" / "sounds"
LANGUAGES = ("en", "ru")
FLOW_DIRS = (REPO / "ivr" / "flows", REPO / "callboard" / "demo_flows")
PROMPT_KEYS = {"prompt", "invalid_prompt", "timeout_prompt"}
# Playback(cb-x), BackGround(cb-x), and cb-x as the default of ${IF(...?cb-x:...)}
_DIALPLAN_PROMPT = re.compile(r"(?:Playback|BackGround)\(([^)$]+)\)|\?(cb-[a-z0-9-]+):")


def flow_prompts() -> dict[str, set[str]]:
    """Prompt name -> the flow files that use it."""
    used: dict[str, set[str]] = {}

    def walk(value: object, where: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in PROMPT_KEYS and isinstance(item, str):
                    used.setdefault(item, set()).add(where)
                elif key == "prompts" and isinstance(item, list):
                    for name in item:
                        used.setdefault(name, set()).add(where)
                else:
                    walk(item, where)

    for folder in FLOW_DIRS:
        for path in sorted(folder.glob("*.toml")):
            walk(tomllib.loads(path.read_text()), str(path.relative_to(REPO)))
    return used


def dialplan_prompts() -> dict[str, set[str]]:
    """Callboard's own prompts (cb-*) the kit's dialplan plays."""
    used: dict[str, set[str]] = {}
    for path in sorted((REPO / "deploy" / "asterisk").glob("extensions_*.conf")):
        for line in path.read_text().splitlines():
            code = line.split(";", 1)[0]
            for match in _DIALPLAN_PROMPT.finditer(code):
                for name in (match.group(1), match.group(2)):
                    if name and name.startswith("cb-"):
                        used.setdefault(name, set()).add(path.name)
    return used


def table() -> dict[str, tuple[str, str]]:
    rows: dict[str, tuple[str, str]] = {}
    for line in (SOUNDS / "prompts.tsv").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#") or line.startswith("name\t"):
            continue
        name, en, ru = line.split("\t")
        assert name not in rows, f"{name} twice in prompts.tsv"
        rows[name] = (en, ru)
    return rows


def test_the_flows_and_dialplan_name_prompts() -> None:
    assert {"cb-welcome", "cb-please-hold", "cb-goodbye"} <= set(flow_prompts())  # not vacuous
    assert "cb-abandoned-call" in dialplan_prompts()


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_prompt_used_is_shipped(language: str) -> None:
    used = flow_prompts() | dialplan_prompts()
    missing = {
        n: sorted(w) for n, w in used.items() if not (SOUNDS / language / f"{n}.wav").exists()
    }
    assert not missing, f"no sounds/{language}/<name>.wav for (prompt: used in): {missing}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_shipped_prompts_are_8khz_16bit_mono_wav(language: str) -> None:
    files = sorted((SOUNDS / language).glob("*.wav"))
    assert files
    for path in files:
        with wave.open(str(path)) as w:  # raises on anything but a PCM RIFF WAVE
            shape = (w.getframerate(), w.getsampwidth(), w.getnchannels())
            assert shape == (8000, 2, 1), f"{path.name}: rate/width/channels {shape}"
            seconds = w.getnframes() / w.getframerate()
        assert 0.5 < seconds < 30, f"{path.name}: {seconds:.1f} s"
        assert path.stat().st_size < 500_000, f"{path.name} is too big for a prompt"


def test_the_table_and_the_files_agree() -> None:
    rows = table()
    for name, texts in rows.items():
        assert all(t.strip() for t in texts), f"{name}: a language has no text"
        assert re.fullmatch(r"cb-[a-z0-9-]+", name), name
    for language in LANGUAGES:
        on_disk = {p.stem for p in (SOUNDS / language).glob("*.wav")}
        assert on_disk == set(rows), f"sounds/{language} differs from prompts.tsv"
    used = set(flow_prompts()) | set(dialplan_prompts())
    assert used <= set(rows)


def test_the_build_script_is_executable() -> None:
    script = SOUNDS / "make-prompts"
    assert script.stat().st_mode & 0o111
    assert script.read_text().startswith("#!/usr/bin/env bash")
