-- DR drill reports (docs/pipelines.md): the evidence a drill leaves, kept apart from the jobs table so it outlives job
-- housekeeping. The report is stored as the JSON text whose SHA-256 the audit entry 'drill.report' holds, so an edited
-- row no longer matches the tamper-evident chain.
CREATE TABLE drill_reports (
    job_id        VARCHAR(128)             PRIMARY KEY,
    database_name VARCHAR(200)             NOT NULL,
    outcome       VARCHAR(16)              NOT NULL,
    created_at    TIMESTAMP WITH TIME ZONE NOT NULL,
    report        TEXT                     NOT NULL,
    sha256        VARCHAR(64)              NOT NULL
);
CREATE INDEX drill_reports_by_database ON drill_reports (database_name, created_at);
