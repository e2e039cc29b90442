-- EventBridge Scheduler's settings of a rule (issue 15): the IANA zone its
-- cron() and at() are evaluated in, optional start and end dates (NULL for
-- none) and a flexible window (nanoseconds, 0 for none).
ALTER TABLE rules ADD COLUMN timezone TEXT NOT NULL DEFAULT 'UTC';
ALTER TABLE rules ADD COLUMN start_date TIMESTAMPTZ;
ALTER TABLE rules ADD COLUMN end_date TIMESTAMPTZ;
ALTER TABLE rules ADD COLUMN flexible_window_ns BIGINT NOT NULL DEFAULT 0;
