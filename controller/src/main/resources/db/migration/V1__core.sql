-- Agents, jobs and their events, alerts. Portable between H2 and PostgreSQL.
CREATE TABLE agents (
    id                   VARCHAR(200) PRIMARY KEY,
    region               VARCHAR(200) NOT NULL,
    version              VARCHAR(100),
    databases_json       VARCHAR(10000),
    max_concurrent_jobs  INT,
    connected            BOOLEAN NOT NULL,
    first_seen           TIMESTAMP WITH TIME ZONE NOT NULL,
    last_seen            TIMESTAMP WITH TIME ZONE NOT NULL,
    disconnect_reason    VARCHAR(2000)
);

CREATE TABLE jobs (
    id                VARCHAR(128) PRIMARY KEY,
    type              VARCHAR(40) NOT NULL,
    database_name     VARCHAR(200) NOT NULL,
    agent_id          VARCHAR(200),
    params_json       VARCHAR(10000),
    requested_by      VARCHAR(200) NOT NULL,
    state             VARCHAR(20) NOT NULL,
    submitted_at      TIMESTAMP WITH TIME ZONE NOT NULL,
    started_at        TIMESTAMP WITH TIME ZONE,
    ended_at          TIMESTAMP WITH TIME ZONE,
    last_sequence     BIGINT NOT NULL,
    phase             VARCHAR(100),
    bytes_done        BIGINT,
    bytes_total       BIGINT,
    bytes_per_second  DOUBLE PRECISION,
    eta_seconds       DOUBLE PRECISION,
    message           VARCHAR(4000),
    result_json       VARCHAR(1000000),
    -- ended by the controller (agent gone, lost, not started) rather than by its agent, whose own outcome still wins
    failed_by_controller BOOLEAN DEFAULT FALSE NOT NULL
);
CREATE INDEX jobs_by_database ON jobs (database_name, submitted_at);
CREATE INDEX jobs_by_state ON jobs (state);
CREATE INDEX jobs_by_type_end ON jobs (database_name, type, ended_at);

CREATE TABLE job_events (
    job_id       VARCHAR(128) NOT NULL,
    sequence     BIGINT NOT NULL,
    kind         VARCHAR(20) NOT NULL,
    at           TIMESTAMP WITH TIME ZONE NOT NULL,
    phase        VARCHAR(100),
    bytes_done   BIGINT,
    bytes_total  BIGINT,
    message      VARCHAR(4000),
    PRIMARY KEY (job_id, sequence)
);

CREATE TABLE alerts (
    id             VARCHAR(64) PRIMARY KEY,
    kind           VARCHAR(60) NOT NULL,
    severity       VARCHAR(20) NOT NULL,
    database_name  VARCHAR(200),
    region         VARCHAR(200),
    subject        VARCHAR(400) NOT NULL,
    summary        VARCHAR(4000) NOT NULL,
    details_json   VARCHAR(20000),
    raised_at      TIMESTAMP WITH TIME ZONE NOT NULL,
    resolved_at    TIMESTAMP WITH TIME ZONE
);
CREATE INDEX alerts_open ON alerts (resolved_at, subject);
