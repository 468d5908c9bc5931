"""Call tracking from the Asterisk Manager Interface (AMI).

Roles, as in every feature package:
- `events`   inbound edge: raw AMI header mappings -> frozen typed events (`parse_event`).
- `calls`    domain: pure call state machine (`apply`) producing `CallRecord`s.
- `agents`   domain: pure live state of queue members and waiting callers, for live pages.
- `listener` inbound adapter: the asterisk-ami client, bridged into asyncio, with keepalive,
             reconnect and resync.
- `tracker`  the subscriber folding events into `calls` and `agents` state, handing out records.
- `replay`   a capture served as an AMI server over TCP (demo PBX, tests, benchmark).
- `offline`  a capture through the real listener against an in-process replay (evaluation).
- `cli`      `ami replay` subcommand.
"""
