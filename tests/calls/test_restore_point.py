"""A takeover folds minutes of stored events, not hours (issue 16): the leader writes, each
second, the PBX time from which its calls in progress can be rebuilt; a new leader starts its
restore there (less a margin for the IVR) and ends with the same calls in progress as a fold
of the whole stored history. Both databases."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from calls import boards
from calls import store as call_store
from calls.ami.listener import AmiListener
from calls.ami.offline import track_capture
from calls.ami.replay import Capture
from calls import center as center_module
from calls.center import CallCenter
from calls.tracker import CallTracker
from hotline.config import AmiSettings
from hotline.db import Database
from hotline.policy import Policy


def _center(db: Database) -> CallCenter:
    listener = AmiListener.from_settings(AmiSettings(host="127.0.0.1", port=1))
    return CallCenter(db, listener, Policy(), "pbx1")


def _in_progress(center: CallCenter) -> dict[str, Any]:
    return {u: (c.phase, c.enter_ts, c.connect_ts) for u, c in center.tracker.calls.calls.items()}


async def test_a_new_leader_restores_from_the_written_point(
    db: Database, busy_dir: Path, monkeypatch: Any, caplog: Any
) -> None:
    # The capture is five minutes long: a margin of 30 s shows what is skipped.
    monkeypatch.setattr(center_module, "RESTORE_MARGIN_S", 30)
    caplog.set_level("INFO", logger="calls.center")
    received: list[tuple[str, Any, float]] = []
    await track_capture(
        Capture.load(busy_dir),
        tracker=CallTracker(keep=False),
        raw=lambda name, headers, at: received.append((name, dict(headers), at)),
    )
    half = len(received) // 2  # the leader died here: later events were never stored
    stored = call_store.CallStore(db, "pbx1")
    for name, headers, _ in received[:half]:
        # As from a live PBX whose clock agrees with ours: received when stamped (a replay at
        # full speed receives five minutes of calls within a second).
        at = float(headers.get("Timestamp") or received[0][2])
        stored.on_raw(name, headers, at)
    assert await stored.flush()

    whole = _center(db)
    await whole._restore()  # no point written: the last RESTORE_S of events
    assert _in_progress(whole), "calls were in progress where the capture was cut"
    point = whole.restore_point()
    await boards.write(db, "pbx1", whole.board(), dt.datetime.now(dt.timezone.utc), point)

    quick = _center(db)
    await quick._restore()
    assert _in_progress(quick) == _in_progress(whole)
    assert await boards.restore_point(db, "pbx1") == point
    assert abs(point - min(c.enter_ts for c in whole.tracker.calls.calls.values())) < 1
    # It folded fewer events: only those from the point less the margin.
    replayed = [
        int(r.getMessage().split()[2])
        for r in caplog.records
        if r.getMessage().startswith("call tracking: ")
        and "stored events replayed" in r.getMessage()
    ]
    assert len(replayed) == 2 and 0 < replayed[1] < replayed[0], replayed
