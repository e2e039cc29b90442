-- Per-rule health (issue 18): a rule's last runs that ended, and its last
-- success, last failure and last ended status, read from the newest end
-- of these partial indexes for every rule each time the rules are listed.
-- runs_rule_id alone would walk past every skipped fire. The last success,
-- failure and status are those of the run that finished last, not of the
-- run created last (a run created first may well finish last), so /metrics
-- and the rules list agree with the finishes as they happen: each is the
-- newest end of one (rule, status) range of runs_rule_status_finished. A
-- run enters both indexes once, when it ends.
CREATE INDEX runs_rule_ended ON runs (rule, id) WHERE status IN ('succeeded', 'failed', 'cancelled', 'interrupted');
CREATE INDEX runs_rule_status_finished ON runs (rule, status, finished_at) WHERE status IN ('succeeded', 'failed', 'cancelled', 'interrupted');
