"""The incident history's tables: incidents as JSON documents with indexed columns, their alert keys,
the guardrails' action ledger, small flags, and the alerts no service owns. `CREATE ... IF NOT EXISTS`
throughout, so an older history file gains what is new when it is opened (new columns by ALTER TABLE,
`agent.incidents.sqlite`). An incident's `summary` (the list view's JSON) comes before its `body`: a
page of the history then reads it without walking the document's overflow pages; in a file older than
the column it comes last, which works, a little slower."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS incidents (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    service TEXT NOT NULL,
    group_key TEXT NOT NULL,
    diagnosis_id TEXT,
    opened_at TEXT NOT NULL,
    closed_at TEXT,
    summary TEXT,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS incidents_status ON incidents(status);
CREATE INDEX IF NOT EXISTS incidents_opened ON incidents(opened_at);
CREATE TABLE IF NOT EXISTS action_log (
    key TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL,
    action TEXT NOT NULL,
    status TEXT NOT NULL,
    ts TEXT NOT NULL,
    service TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS action_log_ts ON action_log(ts);
CREATE TABLE IF NOT EXISTS agent_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alert_keys (
    key TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    PRIMARY KEY (key, incident_id)
);
CREATE INDEX IF NOT EXISTS alert_keys_opened ON alert_keys(opened_at);
CREATE INDEX IF NOT EXISTS alert_keys_incident ON alert_keys(incident_id);
CREATE TABLE IF NOT EXISTS unowned_alerts (
    key TEXT PRIMARY KEY,
    alertname TEXT NOT NULL,
    labels TEXT NOT NULL,
    reason TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    count INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS unowned_alerts_seen ON unowned_alerts(last_seen);
"""
