"""Synthetic phone-call speech for tests, benchmarks and the demo.

Debian's festival (voice festvox-us-slt-hts) speaks scripted debtor and operator lines; sox
band-limits and compands them as a G.711 telephone line does, and writes 8 kHz 16-bit mono
WAV, the format MixMonitor records. Nothing here is used when real calls are recorded.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

VOICE = "voice_cmu_us_slt_arctic_hts"

# The fixed set that the recognition-quality figures (WER) are measured on.
SCRIPTED_LINES: tuple[str, ...] = (
    "i will pay on friday",
    "my account number is nine eight three five",
    "please stop calling me at work",
    "i can pay one hundred dollars next week",
    "i spoke with my lawyer about this debt",
    "i filed for bankruptcy",
    "i dispute this balance it is wrong",
)


class SpeechUnavailable(RuntimeError):
    """festival, its voice or sox is not installed."""


def _require(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        raise SpeechUnavailable(f"{tool} is not installed (apt-get install festival sox)")
    return found


def speak(text: str, directory: Path, rate: int = 8000) -> Path:
    """A telephone-quality WAV of `text` in `directory`; made once, reused by name."""
    digest = hashlib.sha256(f"{VOICE}|{rate}|{text}".encode()).hexdigest()[:16]
    target = directory / f"line-{digest}.wav"
    if target.exists():
        return target
    directory.mkdir(parents=True, exist_ok=True)
    raw = directory / f"line-{digest}.raw.wav"
    ulaw = directory / f"line-{digest}.ulaw.wav"
    try:
        subprocess.run(
            [_require("text2wave"), "-eval", f"({VOICE})", "-o", str(raw)],
            input=text.encode(),
            check=True,
            capture_output=True,
            timeout=60,
        )
        # A G.711 line: band-limited to 300-3400 Hz, mu-law companded, decoded back to the
        # 16-bit linear samples MixMonitor writes. -D: no random dither, so runs repeat exactly.
        subprocess.run(
            [
                _require("sox"),
                "-D",
                str(raw),
                "-r",
                str(rate),
                "-c",
                "1",
                "-e",
                "u-law",
                str(ulaw),
                "sinc",
                "300-3400",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        subprocess.run(
            [_require("sox"), "-D", str(ulaw), "-e", "signed-integer", "-b", "16", str(target)],
            check=True,
            capture_output=True,
            timeout=60,
        )
    except subprocess.CalledProcessError as exc:
        raise SpeechUnavailable(f"speech synthesis failed for {text!r}: {exc.stderr!r}") from exc
    finally:
        raw.unlink(missing_ok=True)
        ulaw.unlink(missing_ok=True)
    return target


def conversation(lines: list[str], directory: Path, name: str, gap: float = 0.8) -> Path:
    """One mono recording of several lines with `gap` seconds of line silence between them."""
    parts = [speak(line, directory) for line in lines]
    target = directory / f"{name}.wav"
    padded = []
    for index, part in enumerate(parts):
        out = directory / f"{name}-{index}.pad.wav"
        subprocess.run(
            [_require("sox"), str(part), str(out), "pad", "0", str(gap)],
            check=True,
            capture_output=True,
            timeout=60,
        )
        padded.append(out)
    subprocess.run(
        [_require("sox"), *map(str, padded), str(target)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    for out in padded:
        out.unlink()
    return target
