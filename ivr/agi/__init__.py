"""FastAGI: the protocol Asterisk's `AGI(agi://host:port/script?query)` speaks over TCP.
`protocol` parses what Asterisk sends into frozen values (pure), `server` runs one coroutine
per call, `client` plays the Asterisk side (recorded transcripts, simulated callers)."""
