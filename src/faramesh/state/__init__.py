"""Daemon state behind one set of protocols (`state.protocol`): the kill switch, sessions,
history rings, budget ledgers and rate-limit buckets. The embedded backend keeps it all in
memory (`state.memory.MemoryState`), durable through the ops each decision's WAL record
carries and through periodic SQLite snapshots (`state.sqlite`); fleet backends implement
the same protocols. Nothing is imported here: pick the module you need."""
