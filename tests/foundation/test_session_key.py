"""The session key persisted in the data dir: processes that start together (`serve
--workers`, instances on one data dir) must end up with one key, or a cookie signed by one
worker is refused by the next and the first start of a fresh install crashed a worker."""

from __future__ import annotations

import multiprocessing
import os
import stat

from hotline.config import Settings
from hotline.web.app import session_key


def _key_of(settings: Settings, barrier, out) -> None:  # type: ignore[no-untyped-def]
    barrier.wait()
    out.put(session_key(settings))


def test_processes_starting_together_share_one_key(tmp_path):
    settings = Settings(data_dir=tmp_path / "var")
    context = multiprocessing.get_context("fork")
    count = 8
    barrier, out = context.Barrier(count), context.Queue()
    procs = [context.Process(target=_key_of, args=(settings, barrier, out)) for _ in range(count)]
    for proc in procs:
        proc.start()
    keys = [out.get(timeout=30) for _ in procs]
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0
    assert len(set(keys)) == 1
    stored = tmp_path / "var" / "secret.key"
    assert stored.read_bytes().strip() == keys[0]
    assert stat.S_IMODE(os.stat(stored).st_mode) == 0o600
    assert sorted(p.name for p in stored.parent.iterdir()) == ["secret.key"]  # no drafts left
    assert session_key(settings) == keys[0]  # a restart keeps it
