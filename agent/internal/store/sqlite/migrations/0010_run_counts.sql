-- How many runs of a rule or of a job each status has (GET /runs/counts,
-- the console's status tabs), read from these indexes alone rather than
-- from every run of the rule or job.
CREATE INDEX runs_rule_status ON runs (rule, status);
CREATE INDEX runs_job_status ON runs (job, status);
