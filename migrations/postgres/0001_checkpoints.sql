-- Lemmings checkpoint store, PostgreSQL. Forward-only: never edit a released migration, add one.
-- Same model as migrations/sqlite: see the comments there. Differences:
-- * Every text column uses the "C" collation: ids, task paths and channel names compare and
--   sort byte by byte, as in Rust and SQLite (checkpoint ids are UUIDv7 text whose byte order is
--   creation order), whatever the database's locale; and btree lookups skip locale rules.
-- * Lease times (acquired_at, heartbeat_at) and effects.updated_at come from the database's
--   clock, so machines with skewed clocks agree on whether a heartbeat is stale.
-- * No fence_guard table: a write is one statement whose first CTE is the lease fence, and
--   every insert is conditional on it (see lemmings-store's postgres/write.rs).

CREATE TABLE checkpoints (
    thread_id     TEXT COLLATE "C" NOT NULL,
    ns            TEXT COLLATE "C" NOT NULL,
    checkpoint_id TEXT COLLATE "C" NOT NULL,
    parent_id     TEXT COLLATE "C",
    step          BIGINT  NOT NULL,
    source        TEXT COLLATE "C" NOT NULL,
    created_at    BIGINT  NOT NULL,  -- milliseconds since the Unix epoch
    metadata      JSONB   NOT NULL,
    channels      JSONB   NOT NULL,  -- {channel: {"version": n, "head": checkpoint id}}
    control       BYTEA   NOT NULL,
    PRIMARY KEY (thread_id, ns, checkpoint_id)
);

CREATE TABLE blobs (
    thread_id     TEXT COLLATE "C" NOT NULL,
    ns            TEXT COLLATE "C" NOT NULL,
    checkpoint_id TEXT COLLATE "C" NOT NULL,
    channel       TEXT COLLATE "C" NOT NULL,
    delta         BOOLEAN NOT NULL,
    prev          TEXT COLLATE "C",
    data          BYTEA   NOT NULL,
    PRIMARY KEY (thread_id, ns, checkpoint_id, channel)
);

CREATE TABLE writes (
    thread_id     TEXT COLLATE "C" NOT NULL,
    ns            TEXT COLLATE "C" NOT NULL,
    checkpoint_id TEXT COLLATE "C" NOT NULL,
    task_id       TEXT COLLATE "C" NOT NULL,
    task_path     TEXT COLLATE "C" NOT NULL,
    node          TEXT COLLATE "C" NOT NULL,
    channel       TEXT COLLATE "C" NOT NULL,
    seq           BIGINT  GENERATED ALWAYS AS IDENTITY,  -- arrival order; an update keeps the row's place
    value         BYTEA   NOT NULL,
    PRIMARY KEY (thread_id, ns, checkpoint_id, task_id, channel),
    FOREIGN KEY (thread_id, ns, checkpoint_id) REFERENCES checkpoints (thread_id, ns, checkpoint_id) ON DELETE CASCADE
);

CREATE TABLE leases (
    thread_id    TEXT COLLATE "C" PRIMARY KEY,
    epoch        BIGINT  NOT NULL,
    holder       TEXT    NOT NULL,   -- for messages: "pid 42 on host build-1"
    host         TEXT    NOT NULL,
    pid          BIGINT  NOT NULL,
    started      BIGINT  NOT NULL,   -- the holder's process start time, 0 when unknown
    acquired_at  BIGINT  NOT NULL,   -- database clock, milliseconds
    heartbeat_at BIGINT  NOT NULL,   -- database clock, milliseconds
    released     BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE effects (
    thread_id   TEXT COLLATE "C" NOT NULL,
    key         TEXT COLLATE "C" NOT NULL,
    applied     BOOLEAN NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    result      BYTEA,
    updated_at  BIGINT  NOT NULL,
    PRIMARY KEY (thread_id, key)
);
