"""The app as the product wires it (`create_app`, the one used by `hotline serve` and the demo)
serves every feature: work orders, knowledge base, call tracking, their pages and the shell.
A feature dropped from the app's list turns these red."""

from __future__ import annotations

import pytest

from hotline.accounts import issue_token

# (role's sample account, path) -> the main surfaces of each feature, read-only.
SURFACES = [
    ("agent1", "/api/v1/tickets"),
    ("agent1", "/tickets/new"),
    ("agent1", "/tickets/callbacks"),
    ("rsj", "/unit/tickets"),
    ("boss", "/tickets/review"),
    ("boss", "/api/v1/tickets/overdue"),
    ("boss", "/api/v1/dispatch/catalogue"),
    ("agent1", "/api/v1/kb/search?q=社保卡"),
    ("agent1", "/desk"),
    ("editor", "/kb/editor"),
    ("boss", "/kb/gaps"),
    ("boss", "/api/v1/kb/gaps"),
    ("boss", "/api/v1/calls/live"),
    ("boss", "/api/v1/calls/metrics"),
    ("boss", "/dashboard"),
    ("agent1", "/calls/missed"),
    ("agent1", "/api/v1/calls/missed"),
    ("root", "/admin"),
    ("root", "/api/v1/users"),
    ("boss", "/audit"),
    ("boss", "/login-locks"),
    ("agent1", "/api/v1/openapi.json"),
]


@pytest.fixture
async def bearer(db, accounts):
    out = {}
    for username in {u for u, _ in SURFACES}:
        out[username] = {"Authorization": f"Bearer {await issue_token(db, 'test', username, 't')}"}
    return out


async def test_every_feature_is_served_by_the_real_app(client, bearer):
    missing = []
    for username, path in SURFACES:
        resp = await client.get(path, headers=bearer[username], allow_redirects=False)
        if resp.status != 200:
            missing.append((username, path, resp.status))
    assert missing == []
