"""A recorded AMI capture (`ami.raw`): every byte a listener received — the `Asterisk Call
Manager/x.y.z` banner, the login response, then event frames (`Key: value` lines ending CRLF, a
blank line after each) — as frames with their timestamps, replayable in a loop with its
timestamps and Uniqueids shifted so that each round looks like new calls (calls/ami/replay.py
serves it)."""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

FRAME_END = b"\r\n\r\n"
_TS = re.compile(rb"(?:^|\r\n)Timestamp: (\d+(?:\.\d+)?)")
# Values to move on each loop so that a re-streamed capture looks like new calls.
_SHIFTED = re.compile(rb"^((?:Timestamp|Uniqueid|Linkedid|DestUniqueid|DestLinkedid): )(\d+)", re.M)


@dataclass(frozen=True, slots=True)
class Capture:
    banner: bytes  # without CRLF
    frames: tuple[bytes, ...]  # event frames without the terminating blank line
    timestamps: tuple[float | None, ...]  # Timestamp of each frame, None where absent
    span: int  # whole seconds covering every Timestamp and Uniqueid

    @classmethod
    def load(cls, path: str | Path) -> "Capture":
        """From `ami.raw`, its folder, or a gzip-compressed capture (`*.gz`)."""
        p = Path(path)
        if p.is_dir():
            p = p / "ami.raw"
        raw = p.read_bytes()
        return cls.parse(gzip.decompress(raw) if p.suffix == ".gz" else raw)

    def starting_at(self, epoch: float) -> "Capture":
        """The same capture moved in time so that its first Timestamp is `epoch` (whole seconds,
        Uniqueids moved along): a replayed PBX that looks live now."""
        first = next((t for t in self.timestamps if t is not None), None)
        if first is None:
            return self
        seconds = int(epoch - first)
        return Capture.of(self.banner, [shift_frame(f, seconds) for f in self.frames])

    @classmethod
    def parse(cls, raw: bytes) -> "Capture":
        banner, _, rest = raw.partition(b"\r\n")
        chunks = rest.split(FRAME_END)
        chunks.pop()  # after the last terminator: empty, or a frame cut short by the capture
        frames = tuple(c for c in chunks if c.startswith(b"Event: "))
        return cls.of(banner, frames)

    @classmethod
    def of(cls, banner: bytes, frames: Sequence[bytes]) -> "Capture":
        stamps: list[float | None] = []
        for f in frames:
            m = _TS.search(f)
            stamps.append(float(m.group(1)) if m else None)
        epochs = [int(m.group(2)) for f in frames for m in _SHIFTED.finditer(f)]
        span = (max(epochs) - min(epochs) + 2) if epochs else 1
        return cls(banner, tuple(frames), tuple(stamps), span)

    def frame(self, n: int) -> bytes:
        """Frame `n` of the endless looped stream: loop k = n // len moved by k * span seconds,
        its Uniqueids too, so that loops never collide."""
        k, i = divmod(n, len(self.frames))
        return self.frames[i] if k == 0 else shift_frame(self.frames[i], k * self.span)

    def timestamp(self, n: int) -> float | None:
        k, i = divmod(n, len(self.frames))
        ts = self.timestamps[i]
        return None if ts is None else ts + k * self.span


def shift_frame(frame: bytes, seconds: int) -> bytes:
    """`frame` with its Timestamp and the epoch part of its Uniqueids moved by `seconds`."""
    return _SHIFTED.sub(lambda m: m.group(1) + str(int(m.group(2)) + seconds).encode(), frame)
