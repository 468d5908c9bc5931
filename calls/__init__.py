"""Calls: tracking the queue calls of the PBX from the Asterisk Manager Interface (AMI), from the
raw event to the dashboard, the agent's screen pop and the missed-call callback list.

A feature of its own at the top level (hotline.features): it follows the PBX in the `ami` worker
and shares no code with work orders or the knowledge base.

- `ami/`       the PBX edge: `events` (raw AMI header mappings -> frozen typed events), `listener`
               (the AMI session in asyncio: login, keepalive, reconnect, resync), `bridge` (the
               asterisk-ami client's reader thread handed over to the loop, bounded),
               `replay` (a capture served as an AMI server: demo PBX, tests, benchmark),
               `offline` (a capture through the real listener against an in-process replay).
- `calls`, `agents`, `callbacks`, `tracker`
               pure: the call state machine producing `CallRecord`s, the live state of queue
               members and waiting callers, the missed-call callback rules, and the subscriber
               folding typed events into both.
- `models`     tables: raw events (append-only), call records, missed-call callbacks.
- `store`      the batched writer (raw events, records, callbacks in step; backpressure).
- `records`    record <-> row, reads of stored records (by time; a caller's earlier calls).
- `recompute`  the stored raw events folded again (the `ami recompute` check, the restart).
- `rollup`     dashboard metrics over the stored records, kept up to date incrementally.
- `center`     `CallCenter`: listener + tracker + store + screen pops, as the ami worker runs it.
- `dashboard`  the metrics JSON of the dashboard (sla.metrics against the policy's targets).
- `missed`     the missed-call callback list: reading it, recording an attempt.
- `ivr_ports`  what calls answers the IVR through hotline.ports (call-back requests, queue wait).
- `web`        routes (API, missed-call page, screen-pop stream), `cli` (`ami ...`, `sla report`),
               `wiring` (services and the ami-ingest worker, hotline.bootstrap).
"""
