//! The engine's tables, written once per dialect.
//!
//! Times are `TIMESTAMPTZ` on PostgreSQL and integer milliseconds since the Unix epoch on SQLite
//! (compact, and compared as plain integers by the claim and due-time indexes). Partial indexes keep
//! the hot paths small: claiming reads only `available` rows, the stager only `scheduled`/`retryable`
//! ones, the rescuer only `running` ones, and the unique index covers only live jobs so a finished
//! job frees its key.

use posada_db::{Migration, MigrationSet};

/// The engine's migration set (`jobs`), for [`posada_db::migrate`].
pub static MIGRATIONS: MigrationSet = MigrationSet {
    name: "jobs",
    migrations: &[
        Migration {
            version: 1,
            name: "jobs, job_errors, job_queues, periodic_tasks, job_nodes",
            sqlite: SQLITE_V1,
            postgres: POSTGRES_V1,
        },
        Migration {
            version: 2,
            name: "indexes for the owner's pages: failing jobs; finished counts from the index alone",
            sqlite: V2,
            postgres: V2,
        },
    ],
};

/// Failing jobs are few; the owner's pages list the newest of them on every view. The finished
/// jobs' index also carries queue and state, so counting a day of them by queue and state reads
/// the index alone (pruning still reads it by `finished_at`).
const V2: &str =
    "CREATE INDEX jobs_failing_idx ON jobs (id) WHERE state IN ('discarded','retryable');
DROP INDEX jobs_finished_idx;
CREATE INDEX jobs_finished_idx ON jobs (finished_at, queue, state)
    WHERE state IN ('completed','cancelled','discarded');";

const SQLITE_V1: &str = r#"
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    queue TEXT NOT NULL,
    args TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('available','scheduled','running','retryable','completed','cancelled','discarded')),
    priority INTEGER NOT NULL DEFAULT 0,
    attempt INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    run_at INTEGER NOT NULL,
    unique_key TEXT,
    trace_id TEXT,
    attempt_token INTEGER,
    node_id TEXT,
    lease_expires_at INTEGER,
    created_at INTEGER NOT NULL,
    attempted_at INTEGER,
    finished_at INTEGER,
    last_error TEXT
);
CREATE INDEX jobs_claim_idx ON jobs (queue, priority DESC, run_at, id) WHERE state = 'available';
CREATE INDEX jobs_due_idx ON jobs (run_at) WHERE state IN ('scheduled','retryable');
CREATE INDEX jobs_lease_idx ON jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_finished_idx ON jobs (finished_at) WHERE state IN ('completed','cancelled','discarded');
CREATE UNIQUE INDEX jobs_unique_key_idx ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('available','scheduled','running','retryable');

CREATE TABLE job_errors (
    id INTEGER PRIMARY KEY,
    job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    message TEXT NOT NULL,
    at INTEGER NOT NULL,
    node_id TEXT
);
CREATE INDEX job_errors_job_idx ON job_errors (job_id);

CREATE TABLE job_queues (
    name TEXT PRIMARY KEY,
    paused INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL
);

CREATE TABLE periodic_tasks (
    name TEXT PRIMARY KEY,
    schedule TEXT NOT NULL,
    tz TEXT NOT NULL,
    kind TEXT NOT NULL,
    last_slot INTEGER,
    next_run INTEGER,
    last_enqueued_at INTEGER,
    last_job_id INTEGER,
    last_run_at INTEGER,
    last_duration_ms INTEGER,
    last_error TEXT,
    paused INTEGER NOT NULL DEFAULT 0,
    run_now_requested_at INTEGER,
    updated_at INTEGER NOT NULL
);

CREATE TABLE job_nodes (
    node_id TEXT PRIMARY KEY,
    started_at INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    queues TEXT NOT NULL,
    scheduler INTEGER NOT NULL
);
"#;

const POSTGRES_V1: &str = r#"
CREATE TABLE jobs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind TEXT NOT NULL,
    queue TEXT NOT NULL,
    args JSONB NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('available','scheduled','running','retryable','completed','cancelled','discarded')),
    priority SMALLINT NOT NULL DEFAULT 0,
    attempt INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    run_at TIMESTAMPTZ NOT NULL,
    unique_key TEXT,
    trace_id TEXT,
    attempt_token BIGINT,
    node_id TEXT,
    lease_expires_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    attempted_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    last_error TEXT
);
CREATE INDEX jobs_claim_idx ON jobs (queue, priority DESC, run_at, id) WHERE state = 'available';
CREATE INDEX jobs_due_idx ON jobs (run_at) WHERE state IN ('scheduled','retryable');
CREATE INDEX jobs_lease_idx ON jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_finished_idx ON jobs (finished_at) WHERE state IN ('completed','cancelled','discarded');
CREATE UNIQUE INDEX jobs_unique_key_idx ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('available','scheduled','running','retryable');

CREATE TABLE job_errors (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id BIGINT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    message TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL DEFAULT now(),
    node_id TEXT
);
CREATE INDEX job_errors_job_idx ON job_errors (job_id);

CREATE TABLE job_queues (
    name TEXT PRIMARY KEY,
    paused BOOLEAN NOT NULL DEFAULT false,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE periodic_tasks (
    name TEXT PRIMARY KEY,
    schedule TEXT NOT NULL,
    tz TEXT NOT NULL,
    kind TEXT NOT NULL,
    last_slot TIMESTAMPTZ,
    next_run TIMESTAMPTZ,
    last_enqueued_at TIMESTAMPTZ,
    last_job_id BIGINT,
    last_run_at TIMESTAMPTZ,
    last_duration_ms BIGINT,
    last_error TEXT,
    paused BOOLEAN NOT NULL DEFAULT false,
    run_now_requested_at TIMESTAMPTZ,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE job_nodes (
    node_id TEXT PRIMARY KEY,
    started_at TIMESTAMPTZ NOT NULL,
    heartbeat_at TIMESTAMPTZ NOT NULL,
    queues TEXT NOT NULL,
    scheduler BOOLEAN NOT NULL
);
"#;
