"""Property-based fuzzing of every operation in GET /api/v1/openapi.json.

For each operation Hypothesis draws requests from its document entry: a token of a role the
operation allows (`x-roles`), path parameters (real ids, matches of the route's pattern,
hostile text), query strings (the names the handlers' modules read, hostile values) and a body
(the schema's fields mixed with wrong types, huge and out-of-range integers, NUL, lone
surrogates, over-long strings; or a whole hostile document: deep nesting, thousands of digits,
NaN, bytes that are not UTF-8). The property: never a 5xx, and every 4xx in the one error shape.

Bounded for CI: a fixed number of examples per operation, derandomized (the same requests on
every run), no example database."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import re
import sys
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from yarl import URL

from hotline.accounts import issue_token
from tests.conftest import login

# HOTLINE_FUZZ_EXAMPLES=200 digs deeper by hand; CI keeps the default.
EXAMPLES_PER_OPERATION = int(os.environ.get("HOTLINE_FUZZ_EXAMPLES", "5"))
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=(Phase.explicit, Phase.generate, Phase.shrink),
)
USER_OF_ROLE = {
    "agent": "agent1",
    "manager": "boss",
    "kb_editor": "editor",
    "admin": "root",
    "unit_handler": "rsj",
}
# aiohttp answers a request line over 8,190 bytes itself, with a plain-text 400 no handler sees:
# values are cut so that the URL stays under it, percent-encoded (up to 12 bytes a character).
PATH_VALUE_CHARS, QUERY_VALUE_CHARS = 200, 150
# The user whose password, tokens and active flag the fuzzer may change: not one it sends
# requests as, so that every operation keeps being reached with a valid token.
VICTIM = "victim"
QUERY_READ = re.compile(
    r"""(?:query_int|query_text)\(request,\s*"(\w+)"|\bq(?:uery)?\.get\("(\w+)"|"""
    r"""\bquery\[\s*"(\w+)"\s*\]"""
)


@dataclass(frozen=True)
class Raw:
    """JSON text sent as it is (a number json.dumps cannot write, nesting, NaN)."""

    text: str


def dump(value: Any) -> str:
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {dump(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(dump(v) for v in value) + "]"
    return json.dumps(value)  # ensure_ascii: lone surrogates go out as \udXXX escapes


def encode(text: str) -> str:
    """Percent-encoded as a hostile client would send it: lone surrogates as their
    (invalid) UTF-8 bytes."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


# --- hostile values ---------------------------------------------------------------------------

SPECIALS = [
    "\x00",
    "\ud800",
    "\udfff",
    "\ud83d",
    "\x00\ud800",
    "\u202e",
    "\ufeff",
    "\x1b[0m",
    "' OR 1=1 --",
    "../../etc/passwd",
    "%00",
    "😀",
]
hostile_text = st.one_of(
    st.builds(
        lambda a, s, b: a + s + b,
        st.text(max_size=8),
        st.sampled_from(SPECIALS),
        st.text(max_size=8),
    ),
    st.builds(
        lambda c, n: c * n,
        st.sampled_from(["x", "长", "\x00"]),
        st.sampled_from([33, 51, 257, 2001, 10_001, 20_001]),
    ),
    st.text(max_size=20),
)
big_ints = st.sampled_from(
    [2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**53, 2**63 - 1, 2**63, 2**64, -(2**64)]
)
hostile_json = st.one_of(
    st.none(),
    st.booleans(),
    big_ints,
    st.integers(),
    st.floats(allow_nan=False),
    hostile_text,
    st.sampled_from(
        [
            Raw("9" * 5000),
            Raw("-" + "9" * 4301),
            Raw("1e999"),
            Raw("NaN"),
            Raw("-Infinity"),
            Raw("[" * 3000 + "]" * 3000),
            Raw('{"a":' * 2000 + "1" + "}" * 2000),
            Raw("1" + "0" * 400),
        ]
    ),
    st.lists(st.one_of(st.integers(), hostile_text, st.none()), max_size=3),
    st.dictionaries(hostile_text, st.integers(), max_size=2),
)
hostile_bodies = st.sampled_from(
    [
        b"",
        b"null",
        b"[]",
        b'"x"',
        b"{",
        b"{}}",
        b"\xff\xfe\x00",
        b"\xef\xbb\xbf{}",
        ("[" * 5000 + "]" * 5000).encode(),
        b'{"x": ' + b"9" * 6000 + b"}",
        b"NaN",
        '{"\ud800": 1}'.encode("utf-8", "surrogatepass"),
        b"\x00" * 64,
    ]
)


# --- values that make sense, so requests reach the services -----------------------------------


def plain_value(
    name: str, schema: dict[str, Any], samples: dict[str, list[Any]]
) -> st.SearchStrategy[Any]:
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    options: list[st.SearchStrategy[Any]] = []
    if name in samples:
        options.append(st.sampled_from(samples[name]))
    if "enum" in schema:
        options.append(st.sampled_from(schema["enum"]))
    elif "string" in kinds:
        options.append(st.text(min_size=1, max_size=min(schema.get("maxLength", 30), 30)))
    if "integer" in kinds:
        options.append(st.integers(1, 3))
        options.append(st.integers(schema.get("minimum", -(2**31)), schema.get("maximum", 2**31)))
    if "boolean" in kinds:
        options.append(st.booleans())
    if "number" in kinds:
        options.append(st.floats(allow_nan=False, allow_infinity=False))
    if "array" in kinds:
        options.append(st.lists(plain_value(name, schema["items"], samples), max_size=3))
    if "null" in kinds:
        options.append(st.none())
    return st.one_of(options) if options else hostile_json


def object_bodies(
    schema: dict[str, Any], samples: dict[str, list[Any]]
) -> st.SearchStrategy[dict[str, Any]]:
    props = schema.get("properties", {})
    required = set(schema.get("required", ()))

    @st.composite
    def build(draw: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, prop in props.items():
            if name not in required and draw(st.booleans()):
                continue
            out[name] = draw(
                st.one_of(
                    plain_value(name, prop, samples), plain_value(name, prop, samples), hostile_json
                )
            )
        if draw(st.integers(0, 9)) == 0:
            out[draw(hostile_text)] = draw(hostile_json)  # an unknown field
        return out

    return build()


# --- one request ------------------------------------------------------------------------------


@dataclass
class Request:
    method: str
    url: str
    headers: dict[str, str]
    data: bytes | None

    def __repr__(self) -> str:  # what Hypothesis prints for a failing example
        data = None if self.data is None else self.data[:300]
        return f"{self.method} {self.url[:300]} {self.headers.get('Content-Type')} {data!r}"


def requests_for(
    path: str,
    method: str,
    op: dict[str, Any],
    doc: dict[str, Any],
    tokens: dict[str, dict[str, str]],
    samples: dict[str, list[Any]],
    query_names: list[str],
) -> st.SearchStrategy[Request]:
    roles = op["x-roles"]

    @st.composite
    def build(draw: Any) -> Request:
        headers: dict[str, str] = {}
        if roles != ["public"]:
            headers.update(tokens[draw(st.sampled_from(roles))])
        url = path
        for param in op.get("parameters", []):
            name = param["name"]
            choices = [
                st.sampled_from(samples.get(name, ["1"])),
                hostile_text,
                st.sampled_from(
                    [
                        "0",
                        "-1",
                        "1.0",
                        "²",
                        "99999999999999999999999",
                        str(2**31),
                        str(2**63),
                        " 1",
                        "1\n",
                    ]
                ),
            ]
            if "pattern" in param["schema"]:
                choices.append(st.from_regex(param["schema"]["pattern"]))
            value = str(draw(st.one_of(choices)) or "x")[:PATH_VALUE_CHARS]
            url = url.replace("{" + name + "}", encode(value))
        pairs = draw(
            st.lists(
                st.tuples(
                    st.sampled_from(query_names),
                    st.one_of(
                        hostile_text,
                        st.sampled_from(
                            ["1", "0", "true", "open", "all", "2026-01-01", "%FF", "", "-1"]
                        ),
                        big_ints.map(str),
                    ).map(lambda v: v[:QUERY_VALUE_CHARS]),
                ),
                max_size=3,
            )
        )
        if pairs:
            url += "?" + "&".join(f"{k}={v if v == '%FF' else encode(v)}" for k, v in pairs)
        data: bytes | None = None
        body = op.get("requestBody")
        if body is not None:
            media, content = next(iter(body["content"].items()))
            headers["Content-Type"] = draw(
                st.sampled_from([media] * 8 + ["text/plain", "application/x-www-form-urlencoded"])
            )
            ref = content["schema"].get("$ref")
            schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else None
            kind = draw(st.integers(0, 9))
            if kind == 0:
                data = draw(hostile_bodies)
            elif kind == 1 and not body["required"]:
                data = None
                headers.pop("Content-Type")
            elif schema is not None:
                data = dump(draw(object_bodies(schema, samples))).encode("utf-8", "surrogatepass")
            else:  # JSON Lines: each line an object with hostile values, or junk
                lines = draw(
                    st.lists(
                        st.one_of(
                            st.dictionaries(
                                st.sampled_from(
                                    [
                                        "id",
                                        "code",
                                        "name",
                                        "title",
                                        "answer",
                                        "category",
                                        "kind",
                                        "status",
                                    ]
                                ),
                                hostile_json,
                                max_size=5,
                            ).map(dump),
                            hostile_text,
                            st.sampled_from(["[" * 3000, "9" * 5000]),
                        ),
                        max_size=4,
                    )
                )
                data = "\n".join(lines).encode("utf-8", "surrogatepass")
        return Request(method.upper(), url, headers, data)

    return build()


def query_names_of(app: Any) -> list[str]:
    """The query parameters the API's handler modules read, found in their source."""
    modules = {
        sys.modules[route.handler.__module__]
        for route in app.router.routes()
        if route.handler.__module__ in sys.modules
    }
    names = set()
    for module in modules:
        for match in QUERY_READ.finditer(inspect.getsource(module)):
            names.update(n for n in match.groups() if n)
    return sorted(names)


# --- the test -------------------------------------------------------------------------------------


async def seed(client: Any, db: Any) -> tuple[dict[str, dict[str, str]], dict[str, list[Any]]]:
    tokens = {}
    for role, username in USER_OF_ROLE.items():
        tokens[role] = {
            "Authorization": f"Bearer {await issue_token(db, 'test', username, 'fuzz')}"
        }

    async def post(role: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        resp = await client.post(path, json=body, headers=tokens[role])
        assert resp.status in (200, 201), (path, await resp.text())
        return await resp.json()

    await post(
        "admin",
        "/api/v1/users",
        {"username": VICTIM, "display_name": "v", "role": "agent", "password": "long-enough-1"},
    )
    ticket = (
        await post(
            "agent",
            "/api/v1/tickets",
            {
                "content": "来电人反映金水区某路段路灯损坏多日，夜间行人通行不便，要求尽快修复。",
                "type": "投诉",
                "unit_code": "ZZ-RSJ",
                "caller_phone": "13812345678",
            },
        )
    )["ticket"]
    article = await post(
        "kb_editor",
        "/api/v1/kb/articles",
        {
            "title": "社保卡丢失怎么补办",
            "answer": "携带身份证到社保经办机构办理挂失和补办。",
            "category": "社会保障",
        },
    )
    await post("kb_editor", f"/api/v1/kb/articles/{article['id']}/publish", {})
    flag = await post(
        "agent",
        f"/api/v1/kb/articles/{article['id']}/flags",
        {"kind": "outdated", "note": "电话变了"},
    )
    gap = await post("agent", "/api/v1/kb/gaps", {"query": "火星移民签证怎么办理"})
    rule = await post(
        "manager", "/api/v1/dispatch/catalogue", {"category": "劳动就业", "unit_code": "ZZ-RSJ"}
    )
    samples: dict[str, list[Any]] = {
        "number": [ticket["number"], "20260101-0001"],
        "master": [ticket["number"]],
        "article_id": [article["id"], "KB-0001"],
        "id": [str(rule["id"]), "1"],
        "flag_id": [str(flag["id"])],
        "gap_id": [str(gap["id"])],
        "version": [1],
        "username": [VICTIM],
        "code": ["ZZ-RSJ"],
        "unit_code": ["ZZ-RSJ", "ZZ-GJJ"],
        "assisting_units": ["ZZ-GJJ"],
        "due": ["2026-12-31", "2026-12-31T18:00:00"],
        "requested_due": ["2026-12-31"],
        "policy_changed_at": ["2026-01-01T00:00:00+08:00"],
        "kind": ["outdated", "wrong"],
        "outcome": ["reached", "no_answer"],
        "phone_last4": ["5678"],
        "category": ["社会保障", "劳动就业"],
        "q": ["社保卡丢了怎么办"],
        "text": ["公积金贷款额度怎么算"],
        "base_version": [1, 2],
    }
    return tokens, samples


async def test_no_operation_answers_5xx_or_an_unshaped_error(client, db, accounts):
    await login(client, "root")
    doc = await (await client.get("/api/v1/openapi.json")).json()
    client.session.cookie_jar.clear()  # bearer tokens only from here: no CSRF, no session
    tokens, samples = await seed(client, db)
    query_names = query_names_of(client.app)
    assert {"limit", "status", "caller", "phone_last4"} <= set(query_names)
    loop = asyncio.get_running_loop()

    async def send(req: Request) -> tuple[int, str, bytes]:
        resp = await client.request(
            req.method,
            URL(req.url, encoded=True),
            data=req.data,
            headers=req.headers,
            allow_redirects=False,
        )
        if resp.content_type == "text/event-stream":  # a live stream has no end to read
            resp.close()
            return resp.status, resp.content_type, b""
        return resp.status, resp.content_type, await resp.read()

    def check(path: str, method: str, op: dict[str, Any]) -> None:
        @FUZZ_SETTINGS
        @given(req=requests_for(path, method, op, doc, tokens, samples, query_names))
        def no_5xx(req: Request) -> None:
            status, content_type, raw = asyncio.run_coroutine_threadsafe(send(req), loop).result(
                timeout=60
            )
            assert status < 500, (status, raw[:500])
            if status >= 400:
                assert content_type == "application/json", (status, raw[:200])
                body = json.loads(raw)
                assert set(body) == {"error"}, body
                assert isinstance(body["error"]["code"], str) and body["error"]["code"]
                assert isinstance(body["error"]["message"], str) and body["error"]["message"]

        no_5xx()

    operations = [
        (path, method, op) for path, ops in doc["paths"].items() for method, op in ops.items()
    ]
    assert len(operations) > 40

    def run_all() -> None:
        for path, method, op in operations:
            check(path, method, op)

    # Hypothesis drives a thread; each request runs on the test's event loop.
    await asyncio.to_thread(run_all)
