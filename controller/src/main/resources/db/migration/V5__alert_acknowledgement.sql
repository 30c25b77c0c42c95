-- Who on call took an open alert, from the dashboard or the REST API; the alert stays open until its condition clears.
ALTER TABLE alerts ADD COLUMN acknowledged_at TIMESTAMP WITH TIME ZONE;
ALTER TABLE alerts ADD COLUMN acknowledged_by VARCHAR(200);
ALTER TABLE alerts ADD COLUMN acknowledged_note VARCHAR(2000);
