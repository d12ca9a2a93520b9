-- Lemmings checkpoint store, SQLite. Forward-only: never edit a released migration, add one.

-- One row per checkpoint. Ids are UUIDv7 text, so they sort by creation time.
CREATE TABLE checkpoints (
    thread_id     TEXT    NOT NULL,
    ns            TEXT    NOT NULL,
    checkpoint_id TEXT    NOT NULL,
    parent_id     TEXT,
    step          INTEGER NOT NULL,
    source        TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,  -- milliseconds since the Unix epoch
    metadata      TEXT    NOT NULL,  -- JSON object
    channels      TEXT    NOT NULL,  -- JSON {channel: {"version": n, "head": checkpoint id}}
    control       BLOB    NOT NULL,  -- the executor's control state (JSON)
    PRIMARY KEY (thread_id, ns, checkpoint_id)
);

-- Channel values: a full value, or one superstep's writes continuing the chain at `prev`.
-- Not tied to `checkpoints` by a foreign key: pruning a checkpoint keeps the blobs that later
-- checkpoints still need.
CREATE TABLE blobs (
    thread_id     TEXT    NOT NULL,
    ns            TEXT    NOT NULL,
    checkpoint_id TEXT    NOT NULL,
    channel       TEXT    NOT NULL,
    delta         INTEGER NOT NULL,  -- 0: full value, 1: delta
    prev          TEXT,
    data          BLOB    NOT NULL,
    PRIMARY KEY (thread_id, ns, checkpoint_id, channel)
);

-- Pending writes of finished (or failed, or interrupted) tasks, against the checkpoint their
-- superstep started from. A task's writes read back in rowid order: the order they were first
-- saved in (an update keeps the row's place).
CREATE TABLE writes (
    thread_id     TEXT    NOT NULL,
    ns            TEXT    NOT NULL,
    checkpoint_id TEXT    NOT NULL,
    task_id       TEXT    NOT NULL,
    task_path     TEXT    NOT NULL,
    node          TEXT    NOT NULL,
    channel       TEXT    NOT NULL,
    value         BLOB    NOT NULL,
    PRIMARY KEY (thread_id, ns, checkpoint_id, task_id, channel),
    FOREIGN KEY (thread_id, ns, checkpoint_id) REFERENCES checkpoints (thread_id, ns, checkpoint_id) ON DELETE CASCADE
);

-- Who runs a thread. Every write of the holder is fenced by `epoch`.
CREATE TABLE leases (
    thread_id    TEXT    PRIMARY KEY,
    epoch        INTEGER NOT NULL,
    holder       TEXT    NOT NULL,   -- for messages: "pid 42 on host build-1"
    host         TEXT    NOT NULL,
    pid          INTEGER NOT NULL,
    started      INTEGER NOT NULL,   -- the holder's process start time, 0 when unknown
    acquired_at  INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    released     INTEGER NOT NULL DEFAULT 0
);

-- Side effects by idempotency key: announced (intent), then applied with a result.
CREATE TABLE effects (
    thread_id   TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    applied     INTEGER NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    result      BLOB,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (thread_id, key)
);

-- Never hold a row: a write batch inserts NULL into one of these when a check fails (its lease
-- fence matched no row; the parent of a checkpoint whose writes it carries is not saved), so
-- the NOT NULL constraint aborts the whole batch in the same round trip.
CREATE TABLE fence_guard (
    lost INTEGER NOT NULL
);
CREATE TABLE parent_guard (
    missing INTEGER NOT NULL
);
