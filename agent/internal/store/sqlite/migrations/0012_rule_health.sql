-- Per-rule health (issue 18): a rule's last success, last failure and last
-- runs that ended, read from the newest end of these partial indexes for
-- every rule each time the rules are listed. runs_rule_id alone would walk
-- past every skipped fire, and to a rule's last success through all its
-- failures since. A run enters them once, when it ends. runs_rule_ended
-- covers what the health reads of the runs, so no run is looked up.
CREATE INDEX runs_rule_ended ON runs (rule, id, status, started_at, finished_at) WHERE status IN ('succeeded', 'failed', 'cancelled', 'interrupted');
CREATE INDEX runs_rule_succeeded ON runs (rule, id) WHERE status = 'succeeded';
CREATE INDEX runs_rule_failed ON runs (rule, id) WHERE status = 'failed';
