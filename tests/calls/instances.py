"""Service instances as separate processes on one PostgreSQL database, following a replayed
capture as their PBX: the fail-over test's and benchmarks/failover.py's harness."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import text
from sqlalchemy.engine import make_url

from calls.ami.replay import ReplayServer
from hotline.db import Database

ROOT = Path(__file__).resolve().parents[2]


async def create_database(admin_url: str) -> str:
    """A fresh database on the server of `admin_url`, migrated; its URL."""
    name = f"hl_failover_{uuid.uuid4().hex[:8]}"
    admin = Database.from_url(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.engine.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    done = subprocess.run(
        [sys.executable, "-m", "hotline", "db", "upgrade"],
        cwd=ROOT,
        env=clean_env(HOTLINE_DATABASE_URL=url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"migrating {name} failed: {done.stderr}")
    return url


async def drop_database(admin_url: str, url: str) -> None:
    name = make_url(url).database
    admin = Database.from_url(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


def clean_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update(settings)
    return env


class Instance:
    """`hotline run --role web,ami` as a process of its own."""

    def __init__(
        self,
        name: str,
        workdir: Path,
        db_url: str,
        pbx_port: int,
        http_port: int,
        queue_log: Path | None = None,
        username: str = "hotline",
        secret: str = "test-secret",
    ) -> None:
        self.name = name
        self.port = http_port
        self.log_path = workdir / f"{name}.log"
        data = workdir / name
        data.mkdir(parents=True, exist_ok=True)
        self.env = clean_env(
            HOTLINE_DATABASE_URL=db_url,
            HOTLINE_DATA_DIR=str(data),
            HOTLINE_UPGRADE_ON_START="false",
            HOTLINE_AMI_ENABLED="true",
            HOTLINE_AMI_HOST="127.0.0.1",
            HOTLINE_AMI_PORT=str(pbx_port),
            HOTLINE_AMI_USERNAME=username,
            HOTLINE_AMI_SECRET=secret,
            HOTLINE_AMI_NAME="pbx1",
            HOTLINE_AMI_QUEUE_LOG=str(queue_log or ""),
            HOTLINE_LOG_LEVEL="INFO",
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hotline",
                "run",
                "--role",
                "web,ami",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    async def health(self) -> dict[str, Any] | None:
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
                async with http.get(f"http://127.0.0.1:{self.port}/healthz") as resp:
                    return json.loads(await resp.text())
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
            return None

    async def role(self) -> str | None:
        body = await self.health()
        return None if body is None else body.get("ami", {}).get("pbx1", {}).get("role")

    async def wait_role(self, role: str, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while await self.role() != role:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log_path.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} not {role}: {self.log_path.read_text()[-3000:]}")
            await asyncio.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no clean-up at all, as a crashed host."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.kill()


async def write_queue_log(source: Path, target: Path, server: ReplayServer) -> None:
    """Asterisk appending its queue_log as the replayed PBX goes: each line once the PBX time
    of the events produced so far has reached it. Runs until cancelled."""
    lines = [line for line in source.read_text(encoding="utf-8").splitlines() if line]
    target.write_text("", encoding="utf-8")
    i = 0
    while True:
        now = server.pbx.now
        chunk = []
        while i < len(lines) and int(lines[i].split("|", 1)[0]) <= now:
            chunk.append(lines[i] + "\n")
            i += 1
        if chunk:
            with open(target, "a", encoding="utf-8") as f:
                f.write("".join(chunk))
        await asyncio.sleep(0.05)
