-- The console shows a run by the last 8 characters of its id (ids are
-- UUIDv7 text, 36 characters, whose start is a time that runs made
-- together share), so :run finds a run by them: this index answers
-- substr(id, 29) = '...' (store.RunFilter.IDSuffix) without a scan.
CREATE INDEX runs_id_tail ON runs (substr(id, 29));
