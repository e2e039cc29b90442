-- Per-rule health by finish (issue 18 review): a rule's last success, last
-- failure and last ended status are those of the run that finished last,
-- not of the run created last (a run created first may well finish last),
-- so /metrics and the rules list agree with the run finishes as they
-- happen. Each is read from the newest end of one (rule, status) range of
-- this index; the indexes by id it replaces are no longer read.
DROP INDEX runs_rule_succeeded;
DROP INDEX runs_rule_failed;
CREATE INDEX runs_rule_status_finished ON runs (rule, status, finished_at) WHERE status IN ('succeeded', 'failed', 'cancelled', 'interrupted');
