"""Mandarin prompts for Asterisk's sounds directory, rendered from the flow's texts with
Debian's `espeak-ng` (voice `cmn`) and `sox`: 8 kHz, mono, 16-bit signed PCM WAV, the format
Asterisk plays without transcoding on narrowband calls.

Recorded prompts take precedence: a file in the output folder that this command did not
write (it is not in the folder's `.hotline-prompts.json` manifest) is a recording and is left
alone. A generated file is written again only when its text changed.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

MANIFEST = ".hotline-prompts.json"
# Extensions Asterisk can play a prompt from; any of them present makes a recording.
SOUND_EXTENSIONS = (".wav", ".WAV", ".gsm", ".ulaw", ".alaw", ".sln", ".sln16", ".g722", ".g729")


class ToolMissing(RuntimeError):
    """espeak-ng or sox is not installed."""


@dataclass(frozen=True, slots=True)
class Rendered:
    written: tuple[str, ...]  # prompt ids rendered now
    unchanged: tuple[str, ...]  # generated before with the same text
    recorded: tuple[str, ...]  # left alone: a recording is there


_PHONE_DIGITS = dict(zip("0123456789", "零幺二三四五六七八九"))


def spoken(text: str) -> str:
    """The text as it should be read on the phone: numbers of three or more digits (hotline
    and ticket numbers) digit by digit, 1 as 幺 (telephone usage: 12345 is 幺二三四五), where
    the synthesiser would read 一万两千三百四十五. Short numbers (请按1) are left alone."""
    return re.sub(r"\d{3,}", lambda m: "".join(_PHONE_DIGITS[d] for d in m[0]), text)


def tools() -> tuple[str, str]:
    espeak, sox = shutil.which("espeak-ng"), shutil.which("sox")
    if espeak is None or sox is None:
        raise ToolMissing(
            "rendering prompts needs espeak-ng and sox (Debian: apt-get install espeak-ng sox)"
        )
    return espeak, sox


def _digest(text: str, voice: str) -> str:
    return hashlib.sha256(f"{voice}\0{text}".encode()).hexdigest()[:16]


def render(prompts: Mapping[str, str], out: Path, voice: str = "cmn") -> Rendered:
    espeak, sox = tools()
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / MANIFEST
    try:
        manifest: dict[str, str] = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        manifest = {}
    written, unchanged, recorded = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for pid, text in sorted(prompts.items()):
            present = [
                out / f"{pid}{ext}" for ext in SOUND_EXTENSIONS if (out / f"{pid}{ext}").exists()
            ]
            if present and pid not in manifest:
                recorded.append(pid)
                continue
            text = spoken(text)
            digest = _digest(text, voice)
            if manifest.get(pid) == digest and (out / f"{pid}.wav").exists():
                unchanged.append(pid)
                continue
            raw = Path(tmp) / f"{pid}.wav"
            subprocess.run(
                [espeak, "-v", voice, "-w", str(raw), "--", text], check=True, capture_output=True
            )
            subprocess.run(
                [
                    sox,
                    "-V1",
                    str(raw),
                    "-r",
                    "8000",
                    "-c",
                    "1",
                    "-b",
                    "16",
                    "-e",
                    "signed-integer",
                    str(out / f"{pid}.wav"),
                    "gain",
                    "-n",
                    "-3",
                ],
                check=True,
                capture_output=True,
            )
            manifest[pid] = digest
            written.append(pid)
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
    return Rendered(tuple(written), tuple(unchanged), tuple(recorded))
