"""Every shared capture through the real listener over real TCP equals its expected.json,
also when the connection drops and resumes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from calls.ami.offline import track_capture
from calls.ami.replay import Capture, ReplayServer
from calls.callbacks import missed_after
from calls.calls import UNKNOWN, CallRecord
from calls.queuelog import QueueLogFile, QueueLogLine
from calls.tracker import CallTracker
from sla.metrics import compute

from .conftest import expected, outage_dirs


def summaries(records: list[CallRecord]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for r in records:
        assert r.uniqueid not in out, f"call {r.uniqueid} recorded twice"
        out[r.uniqueid] = r.summary()
    return out


def assert_matches(folder: Path, records: list[CallRecord], want: dict | None = None) -> None:
    want = want if want is not None else expected(folder)
    got_calls = summaries(records)
    assert set(got_calls) == set(want["calls"])
    for uid, call in want["calls"].items():
        assert got_calls[uid] == call, uid
    metrics = compute(records, service_level_s=want["service_level_seconds"]).as_dict()
    want.pop("calls")
    assert metrics == want


@pytest.mark.asyncio
async def test_capture_through_listener_equals_expected(capture_dir: Path) -> None:
    tracker, listener = await track_capture(capture_dir)
    assert listener.stats.connects == 1
    assert listener.stats.parse_errors == 0
    assert_matches(capture_dir, tracker.all_records())


def outage_replay(folder: Path) -> dict:
    """Replay options that reproduce the recorded outage: the connection drops at the first
    event of the window in `outage.json` and the PBX goes on producing every event up to the
    service's return unheard (the capture itself is the uninterrupted stream)."""
    window = json.loads((folder / "outage.json").read_text(encoding="utf-8"))
    stamps = Capture.load(folder).timestamps
    inside = [
        i
        for i, t in enumerate(stamps)
        if t is not None and window["service_down_from"] <= t < window["service_back_at"]
    ]
    assert inside, "the outage window holds no event"
    return {
        "drop_at": [inside[0]],
        "skip_on_drop": inside[-1] + 1 - inside[0],
        "resume_delay_s": 0.2,
    }


def queue_log_truth(folder: Path) -> dict:
    """expected.json of an outage capture, in the words our records use: it names queue exits
    by their queue_log event (`exitwithtimeout`, `exitempty`, `exitwithkey`, all `timed_out`
    in the README's definitions) and leaves out their wait, which is the exit line's waittime."""
    want = expected(folder)
    waits = {}
    for line in (folder / "queue_log").read_text(encoding="utf-8").splitlines():
        parts = line.split("|")
        if len(parts) > 4 and parts[4].startswith("EXIT"):
            waits[parts[1]] = int(parts[-1])
    for uid, call in want["calls"].items():
        if call["outcome"].startswith("exit"):
            want["calls"][uid] = dict(call, outcome="timed_out", wait_s=waits[uid])
    return want


class QueueLogAsWritten(QueueLogFile):
    """The recorded queue_log as Asterisk had written it at the replay's position: lines up to
    the PBX time of the events produced so far (the recorded file holds the whole run)."""

    def __init__(self, path: Path, server: ReplayServer) -> None:
        super().__init__(path)
        self.server = server
        self.pending = super().read_new()

    def read_new(self) -> list[QueueLogLine]:
        now = self.server.pbx.now
        written = [line for line in self.pending if line.time <= now]
        self.pending = self.pending[len(written) :]
        return written


@pytest.mark.asyncio
@pytest.mark.parametrize("outage_dir", outage_dirs(), ids=lambda p: p.name)
async def test_outage_capture_with_queue_log_equals_queue_log(outage_dir: Path) -> None:
    """The listener is away for the recorded window; the resync and Asterisk's queue_log
    settle every call that ended, rang or began in it."""
    server = ReplayServer(Capture.load(outage_dir), speed=0, **outage_replay(outage_dir))
    queue_log = QueueLogAsWritten(outage_dir / "queue_log", server)
    tracker = CallTracker(queue_log=queue_log)
    _, listener = await track_capture(outage_dir, tracker=tracker, server=server)
    assert listener.stats.connects == 2 and listener.stats.resyncs >= 1
    assert tracker.reconciled > 0
    assert_matches(outage_dir, tracker.all_records(), queue_log_truth(outage_dir))


@pytest.mark.asyncio
@pytest.mark.parametrize("outage_dir", outage_dirs(), ids=lambda p: p.name)
async def test_outage_without_queue_log_leaves_unknowns_that_are_owed_callbacks(
    outage_dir: Path,
) -> None:
    """Without queue_log the calls that ended unseen stay `unknown`; each of them was not
    answered, so each caller is owed a call back."""
    tracker, _ = await track_capture(outage_dir, **outage_replay(outage_dir))
    truth = queue_log_truth(outage_dir)["calls"]
    unknown = [r for r in tracker.all_records() if r.outcome == UNKNOWN]
    assert unknown
    for r in unknown:
        assert truth[r.uniqueid]["outcome"] != "answered"
        owed = missed_after(None, r)
        assert owed is not None and owed.reason == "outage" and owed.caller == r.caller


@pytest.mark.asyncio
async def test_records_keep_precise_times_and_dialled_number(capture_dir: Path) -> None:
    tracker, _ = await track_capture(capture_dir)
    for r in tracker.all_records():
        assert r.enter_ts >= r.enter and r.enter_ts - r.enter < 1
        assert r.end_ts is not None and r.end_ts >= r.enter_ts
        assert r.caller and r.dialled and r.queue == "hotline"
        if r.outcome == "answered":
            assert r.connect_ts is not None and r.connect_ts >= r.enter_ts
            assert [a.outcome for a in r.attempts].count("answered") == 1


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "options",
    [
        {"drop_at": [900]},
        {"drop_at": [700], "drop_mid_frame": True},
        {"drop_at": [600, 1800, 2600], "drop_mid_frame": True},
        {"drop_at": [1500], "resume_overlap": 400},
        {"drop_at": [1000, 2000], "resume_overlap": 150, "resume_delay_s": 0.2},
    ],
    ids=["drop", "mid-frame", "three-drops", "overlap", "overlap-after-resync"],
)
async def test_dropped_connection_resumes_without_loss_or_double_count(
    capture_dir: Path, options: dict
) -> None:
    tracker, listener = await track_capture(capture_dir, **options)
    assert listener.stats.connects == len(options["drop_at"]) + 1
    if options.get("resume_overlap"):
        assert listener.stats.duplicates > 0
    assert_matches(capture_dir, tracker.all_records())


@pytest.mark.asyncio
async def test_events_lost_during_an_outage_are_recovered_by_resync(busy_dir: Path) -> None:
    """200 events are produced while the listener is away; QueueStatus tells it who is waiting.
    Calls that began and ended inside the gap cannot be known; every other call is recorded
    once, with Asterisk's outcome and hold/wait figures."""
    cap = Capture.load(busy_dir)
    drop, gap = 1500, 200
    tracker, listener = await track_capture(
        cap, drop_at=[drop], skip_on_drop=gap, resume_delay_s=0.3
    )
    assert listener.stats.connects == 2 and listener.stats.resyncs >= 1
    want = expected(busy_dir)["calls"]
    got = summaries(tracker.all_records())
    assert set(got) <= set(want)
    recovered = 0
    for uid, call in got.items():
        for key in (
            "caller",
            "outcome",
            "enter",
            "agent",
            "hold_s",
            "wait_s",
            "talk_s",
            "ended_by",
        ):
            assert call.get(key) == want[uid].get(key), (uid, key)
        recovered += 1
    # The calls joined in the gap and still queued at the resync are among them.
    joined_in_gap = {
        f.split(b"Uniqueid: ")[1].split(b"\r\n")[0].decode()
        for f in cap.frames[drop : drop + gap]
        if f.startswith(b"Event: QueueCallerJoin")
    }
    resynced = {r.uniqueid for r in tracker.all_records() if r.resynced}
    assert joined_in_gap and joined_in_gap <= resynced | (set(want) - set(got))
    assert recovered >= len(want) - len(joined_in_gap)


@pytest.mark.asyncio
async def test_looped_replay_makes_new_calls(busy_dir: Path) -> None:
    cap = Capture.load(busy_dir)
    loops = 20  # long enough for the listener's resync to land in the middle of the stream
    looped = Capture.of(cap.banner, [cap.frame(n) for n in range(loops * len(cap.frames))])
    tracker, _ = await track_capture(looped)
    records = tracker.all_records()
    want = expected(busy_dir)
    assert len(summaries(records)) == loops * len(want["calls"])
    m = compute(records)
    assert m.offered == loops * want["offered"] and m.answered == loops * want["answered"]
    by_id = {r.uniqueid: r for r in records}
    for k in range(loops):
        for uid, call in want["calls"].items():
            epoch, seq = uid.split(".")
            twin = by_id[f"{int(epoch) + k * cap.span}.{seq}"].summary()
            assert twin == dict(call, enter=call["enter"] + k * cap.span)


@pytest.mark.asyncio
async def test_raw_events_recompute_the_same_records(busy_dir: Path) -> None:
    """What a raw subscriber receives (what storage will append) folds into the same records."""
    import asyncio

    from calls import calls
    from calls.ami import parse as ami_parse
    from calls.ami.listener import AmiListener, ListenerOptions
    from calls.ami.replay import ReplayServer
    from calls.tracker import CallTracker

    server = ReplayServer(Capture.load(busy_dir), speed=0, drop_at=[2000], resume_overlap=100)
    host, port = await server.start()
    listener = AmiListener(host, port, "u", "p", ListenerOptions(backoff_initial_s=0.05))
    raw: list[tuple[str, dict]] = []
    tracker = CallTracker()
    listener.subscribe_raw(lambda name, headers, at: raw.append((name, dict(headers))))
    listener.subscribe(tracker)
    await listener.start()
    try:
        await asyncio.wait_for(server.finished.wait(), 30)
        for _ in range(100):
            try:
                await listener.wait_connected(5)
                await listener.sync()
                break
            except Exception:  # noqa: BLE001 - reconnecting after the drop
                await asyncio.sleep(0.05)
    finally:
        await listener.stop()
        await server.close()
    replayed = [
        ami_parse.parse(name, headers) for name, headers in raw if "Timestamp" in headers
    ]  # list items of the resyncs carry none
    state, records = calls.fold(e for e in replayed if e is not None)
    records += list(calls.snapshot(state))
    assert summaries(records) == summaries(tracker.all_records())
    assert_matches(busy_dir, records)


@pytest.mark.asyncio
@pytest.mark.parametrize("outage_dir", outage_dirs(), ids=lambda p: p.name)
async def test_board_after_an_outage_shows_every_member_as_the_pbx_has_them(
    outage_dir: Path,
) -> None:
    """Right after the resync that follows the outage, each member is shown as a listener
    that never went away shows it at that moment (no ringing for a caller already gone, no
    'available' while talking): QueueStatus and CoreShowChannels refresh every member."""
    from calls import agents
    from calls.ami import events as ev
    from calls.ami import parse as ami_parse

    cap = Capture.load(outage_dir)
    server = ReplayServer(cap, speed=0, **outage_replay(outage_dir))
    tracker = CallTracker()
    boards: list[tuple[int, float, list]] = []

    def after_resync(event: object) -> None:
        if isinstance(event, ev.Resync) and server.connections > 1:
            now = server.pbx.now
            boards.append(
                (
                    server.position,
                    now,
                    [(m.name, m.state, m.caller) for m in agents.members_at(tracker.live, now)],
                )
            )

    await track_capture(
        cap,
        tracker=tracker,
        server=server,
        prepare=lambda _s, listener: listener.subscribe(after_resync) and None,
    )
    assert boards, "no resync after the outage"
    position, now, board = boards[0]
    never_away = CallTracker()
    for frame in cap.frames[:position]:
        headers = dict(line.split(": ", 1) for line in frame.decode().split("\r\n") if ": " in line)
        event = ami_parse.parse(headers["Event"], headers)
        if event is not None:
            never_away(event)
    truth = [(m.name, m.state, m.caller) for m in agents.members_at(never_away.live, now)]
    assert board == truth
    assert {state for _, state, _ in truth} >= {agents.RINGING, agents.TALKING}
