-- Lemmings checkpoint store, PostgreSQL. Forward-only: never edit a released migration, add one.
-- Same model as migrations/sqlite: see the comments there.

CREATE TABLE checkpoints (
    thread_id     TEXT    NOT NULL,
    ns            TEXT    NOT NULL,
    checkpoint_id TEXT    NOT NULL,
    parent_id     TEXT,
    step          BIGINT  NOT NULL,
    source        TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    metadata      JSONB   NOT NULL,
    channels      JSONB   NOT NULL,
    control       BYTEA   NOT NULL,
    PRIMARY KEY (thread_id, ns, checkpoint_id)
);

CREATE TABLE blobs (
    thread_id     TEXT    NOT NULL,
    ns            TEXT    NOT NULL,
    checkpoint_id TEXT    NOT NULL,
    channel       TEXT    NOT NULL,
    delta         BOOLEAN NOT NULL,
    prev          TEXT,
    data          BYTEA   NOT NULL,
    PRIMARY KEY (thread_id, ns, checkpoint_id, channel)
);

CREATE TABLE writes (
    thread_id     TEXT    NOT NULL,
    ns            TEXT    NOT NULL,
    checkpoint_id TEXT    NOT NULL,
    task_id       TEXT    NOT NULL,
    task_path     TEXT    NOT NULL,
    node          TEXT    NOT NULL,
    channel       TEXT    NOT NULL,
    idx           INTEGER NOT NULL,
    value         BYTEA   NOT NULL,
    PRIMARY KEY (thread_id, ns, checkpoint_id, task_id, channel),
    FOREIGN KEY (thread_id, ns, checkpoint_id) REFERENCES checkpoints (thread_id, ns, checkpoint_id) ON DELETE CASCADE
);

CREATE TABLE leases (
    thread_id    TEXT    PRIMARY KEY,
    epoch        BIGINT  NOT NULL,
    holder       TEXT    NOT NULL,
    host         TEXT    NOT NULL,
    pid          BIGINT  NOT NULL,
    started      BIGINT  NOT NULL,
    acquired_at  BIGINT  NOT NULL,
    heartbeat_at BIGINT  NOT NULL,
    released     BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE effects (
    thread_id   TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    applied     BOOLEAN NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    result      BYTEA,
    updated_at  BIGINT  NOT NULL,
    PRIMARY KEY (thread_id, key)
);
