// Package storeutil holds what the SQLite and PostgreSQL stores share that
// does not depend on a driver: defaults, validation, the column lists and the
// WHERE clauses of the list filters. Both dialects take $1, $2, ...
// placeholders, so the SQL built here runs on either.
package storeutil

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

// List page sizes, as the store contract states them.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
	// DefaultLogLimit and MaxLogLimit bound one RunLogList call.
	// MaxLogLimit is one more than the largest page of lines the API
	// serves (10,000): it asks for a line more than the page to learn
	// whether a next page exists, which must work for the largest page too.
	DefaultLogLimit = 1000
	MaxLogLimit     = 10001
)

// Limit applies the default and the maximum to a requested page size.
func Limit(n int) int {
	switch {
	case n <= 0:
		return DefaultLimit
	case n > MaxLimit:
		return MaxLimit
	}
	return n
}

// LogLimit is Limit for log lines.
func LogLimit(n int) int {
	switch {
	case n <= 0:
		return DefaultLogLimit
	case n > MaxLogLimit:
		return MaxLogLimit
	}
	return n
}

// Time is t as both stores keep it: UTC, truncated to the microsecond (what
// PostgreSQL's timestamptz holds), so a time read back equals the one
// returned when it was written. The zero time stays zero (NULL).
func Time(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// Now is the current time as the stores keep it.
func Now() time.Time { return Time(time.Now()) }

// MarshalParams encodes parameters as a JSON object; nil becomes {}.
func MarshalParams(m map[string]string) (string, error) {
	if m == nil {
		return "{}", nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encode parameters: %w", err)
	}
	return string(b), nil
}

// UnmarshalParams decodes a JSON object of parameters. It always returns a
// non-nil map, so an empty set of parameters reads back the same on both
// databases.
func UnmarshalParams(s string) (map[string]string, error) {
	m := map[string]string{}
	if s == "" {
		return m, nil
	}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("decode parameters: %w", err)
	}
	return m, nil
}

// MarshalNotify encodes a rule's notification policy; the zero policy is "".
func MarshalNotify(p store.NotifyPolicy) (string, error) {
	if len(p.On) == 0 && len(p.Channels) == 0 {
		return "", nil
	}
	b, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("encode notification policy: %w", err)
	}
	return string(b), nil
}

// UnmarshalNotify decodes what MarshalNotify encoded.
func UnmarshalNotify(s string) (store.NotifyPolicy, error) {
	var p store.NotifyPolicy
	if s == "" {
		return p, nil
	}
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return p, fmt.Errorf("decode notification policy: %w", err)
	}
	return p, nil
}

// MarshalPolicy encodes a rule's run policy as JSON ("{}" for none).
func MarshalPolicy(p store.RunPolicy) (string, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("encode run policy: %w", err)
	}
	return string(b), nil
}

// UnmarshalPolicy decodes what MarshalPolicy encoded.
func UnmarshalPolicy(s string) (store.RunPolicy, error) {
	var p store.RunPolicy
	if s == "" {
		return p, nil
	}
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return p, fmt.Errorf("decode run policy: %w", err)
	}
	return p, nil
}

// RuleDocs are a rule's columns that hold JSON documents, encoded.
type RuleDocs struct {
	Params, Notify, Policy, Chains string
}

// EncodeRuleDocs encodes r's parameters, notification policy, run policy
// and chains for storing; what was being done goes in the error.
func EncodeRuleDocs(r store.Rule, doing string) (RuleDocs, error) {
	var d RuleDocs
	var err error
	if d.Params, err = MarshalParams(r.Parameters); err != nil {
		return d, fmt.Errorf("%s rule %q: %w", doing, r.Name, err)
	}
	if d.Notify, err = MarshalNotify(r.Notify); err != nil {
		return d, fmt.Errorf("%s rule %q: %w", doing, r.Name, err)
	}
	if d.Policy, err = MarshalPolicy(r.Policy); err != nil {
		return d, fmt.Errorf("%s rule %q: %w", doing, r.Name, err)
	}
	if d.Chains, err = MarshalChains(r.Chains); err != nil {
		return d, fmt.Errorf("%s rule %q: %w", doing, r.Name, err)
	}
	return d, nil
}

// DecodeRuleDocs sets r's documents from what EncodeRuleDocs encoded.
func DecodeRuleDocs(r *store.Rule, d RuleDocs) error {
	var err error
	if r.Parameters, err = UnmarshalParams(d.Params); err != nil {
		return err
	}
	if r.Notify, err = UnmarshalNotify(d.Notify); err != nil {
		return err
	}
	if r.Policy, err = UnmarshalPolicy(d.Policy); err != nil {
		return err
	}
	r.Chains, err = UnmarshalChains(d.Chains)
	return err
}

// MarshalChains encodes a rule's chains as JSON ("" for none).
func MarshalChains(c api.Chains) (string, error) {
	if len(c.OnSuccess)+len(c.OnFailure)+len(c.OnFinish) == 0 {
		return "", nil
	}
	b, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("encode chains: %w", err)
	}
	return string(b), nil
}

// UnmarshalChains decodes what MarshalChains encoded.
func UnmarshalChains(s string) (api.Chains, error) {
	var c api.Chains
	if s == "" {
		return c, nil
	}
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return c, fmt.Errorf("decode chains: %w", err)
	}
	return c, nil
}

// NewID returns a new UUIDv7 as a string: ids sort by creation.
func NewID() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("generate id: %w", err)
	}
	return id.String(), nil
}

// PrepareRule fills a rule's defaults before it is written: both times default
// to now and are truncated, parameters are never nil.
func PrepareRule(r store.Rule) store.Rule {
	now := Now()
	r.CreatedAt = Time(r.CreatedAt)
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now
	}
	r.UpdatedAt = Time(r.UpdatedAt)
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = now
	}
	r.Sync.At = Time(r.Sync.At)
	r.StartDate, r.EndDate = Time(r.StartDate), Time(r.EndDate)
	if r.Timezone == "" {
		r.Timezone = "UTC"
	}
	if r.Parameters == nil {
		r.Parameters = map[string]string{}
	}
	return r
}

// RuleVersionCond is the condition of a write that expects a rule at
// version (arg is its placeholder, "$22"): any version when it is 0.
func RuleVersionCond(arg string) string {
	v := "CAST(" + arg + " AS BIGINT)"
	return "(" + v + " = 0 OR version = " + v + ")"
}

// PrepareRun validates a new run and fills its defaults: a UUIDv7 id, created
// now, running unless the caller says skipped, missed or queued, started at
// creation when running, finished at creation when skipped or missed, neither
// when queued; attempt 1 unless set.
func PrepareRun(r store.Run) (store.Run, error) {
	if r.ID == "" {
		id, err := NewID()
		if err != nil {
			return r, err
		}
		r.ID = id
	}
	if r.Status == "" {
		r.Status = api.StatusRunning
	}
	switch r.Status {
	case api.StatusRunning, api.StatusSkipped, api.StatusMissed, api.StatusQueued:
	default:
		return r, fmt.Errorf("create run: status %q: a new run is running, queued, skipped or missed", r.Status)
	}
	if r.Attempt <= 0 {
		r.Attempt = 1
	}
	r.NotBefore = Time(r.NotBefore)
	if r.Parameters == nil {
		r.Parameters = map[string]string{}
	}
	r.CreatedAt = Time(r.CreatedAt)
	if r.CreatedAt.IsZero() {
		r.CreatedAt = Now()
	}
	r.ScheduledAt = Time(r.ScheduledAt)
	r.StartedAt = Time(r.StartedAt)
	r.FinishedAt = Time(r.FinishedAt)
	switch r.Status {
	case api.StatusRunning:
		if r.StartedAt.IsZero() {
			r.StartedAt = r.CreatedAt
		}
		r.FinishedAt = time.Time{}
	case api.StatusSkipped:
		Skip(&r, "")
	case api.StatusMissed:
		// Nothing ran: like a skipped run, it finishes as it is recorded.
		r.StartedAt, r.FinishedAt = time.Time{}, r.CreatedAt
	case api.StatusQueued:
		Queue(&r, r.Serial)
	}
	return r, nil
}

// Queue turns a new run into a queued one: it has not started, and waits
// for RunClaim. serial: it waits for the earlier runs of its rule too.
func Queue(r *store.Run, serial bool) {
	r.Status = api.StatusQueued
	r.StartedAt, r.FinishedAt = time.Time{}, time.Time{}
	r.Serial = serial
}

// CancelQueuedError is the error of a queued run an operator cancelled
// before it started.
func CancelQueuedError(by, reason string) string {
	msg := "cancelled by " + by + " before it started"
	if reason != "" {
		msg += ": " + reason
	}
	return msg
}

// Skip turns a new run into a skipped one: it never starts and finishes when
// it is created. activeID, when not empty, is the still active run of the
// same rule that is the reason for the skip.
func Skip(r *store.Run, activeID string) {
	r.Status = api.StatusSkipped
	r.StartedAt = time.Time{}
	if activeID != "" || r.FinishedAt.IsZero() {
		r.FinishedAt = r.CreatedAt
	}
	if activeID != "" {
		r.Error = fmt.Sprintf("skipped: run %s of rule %s is still running", activeID, r.Rule)
	}
}

// PrepareFinish validates a run's final state and defaults its time to now.
func PrepareFinish(p store.RunFinishParams) (store.RunFinishParams, error) {
	if !p.Status.Terminal() {
		return p, fmt.Errorf("finish run %s: status %q is not a final state", p.ID, p.Status)
	}
	p.FinishedAt = Time(p.FinishedAt)
	if p.FinishedAt.IsZero() {
		p.FinishedAt = Now()
	}
	if p.Then != nil {
		// Prepared in place: the caller learns the new run's id, and a
		// finish tried again creates the same run, not another.
		then := *p.Then
		if then.Status == "" {
			then.Status = api.StatusQueued
		}
		then, err := PrepareRun(then)
		if err != nil {
			return p, fmt.Errorf("finish run %s: the run after it: %w", p.ID, err)
		}
		*p.Then = then
	}
	// Prepared in place too, for the same reasons.
	for i := range p.Chained {
		c := p.Chained[i]
		failed := c.Status == api.StatusFailed
		if c.Status == "" || failed {
			c.Status = api.StatusQueued
		}
		c, err := PrepareRun(c)
		if err != nil {
			return p, fmt.Errorf("finish run %s: the run its chain starts: %w", p.ID, err)
		}
		if failed {
			// It could not be made (a reference its parent cannot fill):
			// it is recorded as it is created, failed, never started.
			c.Status, c.StartedAt, c.FinishedAt, c.Serial = api.StatusFailed, time.Time{}, c.CreatedAt, false
		}
		p.Chained[i] = c
	}
	if len(p.Output) > 0 && !json.Valid(p.Output) {
		return p, fmt.Errorf("finish run %s: its output is not JSON", p.ID)
	}
	return p, nil
}

// FollowingRuns are the runs a recorded finish creates with it, in its
// transaction: the retry in p.Then when it follows run, else the chained
// runs when they follow.
func FollowingRuns(p store.RunFinishParams, run store.Run) []store.Run {
	switch {
	case p.ThenFollows(run):
		return []store.Run{*p.Then}
	case p.ChainedFollow(run):
		return p.Chained
	}
	return nil
}

// ActiveStatuses is the SQL list of the active run states.
const ActiveStatuses = "('running', 'cancelling')"

// UnfinishedStatuses is the SQL list of the states of runs that have not
// finished: queued and active.
const UnfinishedStatuses = "('queued', 'running', 'cancelling')"

// RunColumns lists a run's columns in the order both stores scan them.
const RunColumns = `id, rule, job, status, trigger, parameters, event_id, restart_of,
	triggered_by, cancelled_by, cancel_reason, node, scheduled_at, created_at,
	started_at, finished_at, error, progress_percent, progress_message,
	attempt, retry_of, not_before, serial, warn_after_ns, parent_run, chain_depth`

// RunColumnCount is how many columns RunColumns lists.
const RunColumnCount = 26

// Placeholders returns "$from, $from+1, ..." for n values.
func Placeholders(from, n int) string {
	marks := make([]string, n)
	for i := range marks {
		marks[i] = "$" + strconv.Itoa(from+i)
	}
	return strings.Join(marks, ", ")
}

// where collects AND-ed conditions and their $N arguments.
type where struct {
	conds []string
	args  []any
}

// add appends a condition; each ? in cond becomes the next $N.
func (w *where) add(cond string, args ...any) {
	for _, a := range args {
		w.args = append(w.args, a)
		cond = strings.Replace(cond, "?", "$"+strconv.Itoa(len(w.args)), 1)
	}
	w.conds = append(w.conds, cond)
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return "WHERE " + strings.Join(w.conds, " AND ")
}

// RunListQuery builds the query for RunList: the filter's conditions, newest
// first by id, fetching one row more than the page to tell whether another
// page follows. timeArg converts a time to what the database stores.
func RunListQuery(f store.RunFilter, limit int, timeArg func(time.Time) any) (string, []any) {
	w := runWhere(f, timeArg)
	if f.Cursor != "" {
		w.add("id < ?", f.Cursor)
	}
	q := fmt.Sprintf("SELECT %s FROM runs %s ORDER BY id DESC LIMIT %d", RunColumns, w.sql(), limit+1)
	return q, w.args
}

// RunCountQuery builds the query for RunCountByStatus: one grouped count of
// the runs the filter selects (its Limit and Cursor aside), answering rows
// of (status, count).
func RunCountQuery(f store.RunFilter, timeArg func(time.Time) any) (string, []any) {
	w := runWhere(f, timeArg)
	group := "status"
	if !f.Since.IsZero() || !f.Until.IsZero() {
		// Grouped by the bare column, SQLite reads every run through the
		// status index (it gives the groups in order) instead of the few
		// a time range keeps through created_at; an expression makes it
		// take the range and group the rows it finds.
		group = "status || ''"
	}
	return "SELECT " + group + ", COUNT(*) FROM runs " + w.sql() + " GROUP BY " + group, w.args
}

// runWhere is the conditions of a run filter but its cursor.
func runWhere(f store.RunFilter, timeArg func(time.Time) any) where {
	var w where
	if len(f.Statuses) > 0 {
		marks := make([]string, len(f.Statuses))
		args := make([]any, len(f.Statuses))
		for i, s := range f.Statuses {
			marks[i], args[i] = "?", string(s)
		}
		w.add("status IN ("+strings.Join(marks, ", ")+")", args...)
	}
	if f.Series != "" {
		// retry_of <> '' lets the database read the retries through their
		// partial index instead of every run.
		w.add("(id = ? OR (retry_of = ? AND retry_of <> ''))", f.Series, f.Series)
	}
	if f.IDPrefix != "" {
		if end, ok := PrefixEnd(f.IDPrefix); ok {
			// A range of the primary key (byte order in both stores: SQLite's
			// BINARY, PostgreSQL's COLLATE "C"): no LIKE to escape, and the
			// index finds the matches.
			w.add("id >= ? AND id < ?", f.IDPrefix, end)
		} else {
			w.add("id >= ? AND substr(id, 1, ?) = ?", f.IDPrefix, len(f.IDPrefix), f.IDPrefix)
		}
	}
	if n := len(f.IDSuffix); n > 0 {
		// No index: the ids are read from the newest back. An index of the
		// ids' ends cost every new run a write (7% of the webhook's rate
		// on SQLite), for a lookup an operator makes now and then.
		w.add(fmt.Sprintf("substr(id, %d) = ? AND length(id) = %d", max(1, api.RunIDLength+1-n), api.RunIDLength), f.IDSuffix)
	}
	if f.Parent != "" {
		w.add("parent_run = ? AND parent_run <> ''", f.Parent)
	}
	if f.Job != "" {
		w.add("job = ?", f.Job)
	}
	if f.Rule != "" {
		w.add("rule = ?", f.Rule)
	}
	if f.Trigger != "" {
		w.add("trigger = ?", string(f.Trigger))
	}
	if !f.Since.IsZero() {
		w.add("created_at >= ?", timeArg(Time(f.Since)))
	}
	if !f.Until.IsZero() {
		w.add("created_at < ?", timeArg(Time(f.Until)))
	}
	if f.Node != "" {
		w.add("node = ?", f.Node)
	}
	return w
}

// AuditColumns lists an audit entry's columns in scan order.
const AuditColumns = "id, time, actor, action, target, detail, before_rule, after_rule"

// auditActionNames pairs the two names of one audit action: a PUT of a
// rule was audited as rule.replace before it became rule.update (when the
// entries gained before and after). A filter by either name lists both.
// The stored rows keep the name they were written with rather than being
// rewritten by a migration: agents sharing a PostgreSQL database upgrade
// one at a time, and one not upgraded yet still writes rule.replace.
var auditActionNames = map[string]string{
	"rule.update":  "rule.replace",
	"rule.replace": "rule.update",
}

// AuditListQuery builds the query for AuditList, like RunListQuery. An
// action filter of rule.update or rule.replace lists both (see
// auditActionNames).
func AuditListQuery(f store.AuditFilter, limit int) (string, []any) {
	var w where
	if f.Actor != "" {
		w.add("actor = ?", f.Actor)
	}
	if f.Action != "" {
		if other, ok := auditActionNames[f.Action]; ok {
			w.add("action IN (?, ?)", f.Action, other)
		} else {
			w.add("action = ?", f.Action)
		}
	}
	if f.Target != "" {
		w.add("target = ?", f.Target)
	}
	if f.Cursor != "" {
		w.add("id < ?", f.Cursor)
	}
	q := fmt.Sprintf("SELECT %s FROM audit %s ORDER BY id DESC LIMIT %d", AuditColumns, w.sql(), limit+1)
	return q, w.args
}

// Page trims a list fetched with one extra row to the page size and returns
// the cursor of the next page: the last id when more may follow, else "".
func Page[T any](items []T, limit int, id func(T) string) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	return items, id(items[limit-1])
}

// RawJSON is a stored JSON column as read back: nil for "" (none).
func RawJSON(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

// PrepareAudit fills an audit entry's defaults: a UUIDv7 id, the time now.
func PrepareAudit(e store.AuditEntry) (store.AuditEntry, error) {
	if e.ID == "" {
		id, err := NewID()
		if err != nil {
			return e, err
		}
		e.ID = id
	}
	e.Time = Time(e.Time)
	if e.Time.IsZero() {
		e.Time = Now()
	}
	return e, nil
}

// RewriteParams is the loop of both stores' RuleRewriteParams, run inside
// their transaction: it calls fn with each rule as stored and, for each one
// fn reports changed, update with the rule's name and its new parameters as
// stored. It returns how many rules changed.
func RewriteParams(rules []store.Rule, fn func(store.Rule) (map[string]string, bool, error), update func(name, params string) error) (int, error) {
	n := 0
	for _, r := range rules {
		params, changed, err := fn(r)
		if err != nil {
			return 0, err
		}
		if !changed {
			continue
		}
		enc, err := MarshalParams(params)
		if err != nil {
			return 0, fmt.Errorf("rewrite parameters of rule %q: %w", r.Name, err)
		}
		if err := update(r.Name, enc); err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}

// MaintenanceKey names the maintenance mode's row in the meta table.
const MaintenanceKey = "maintenance"

// MarshalMaintenance encodes the maintenance mode for the meta table.
func MarshalMaintenance(m store.Maintenance) (string, error) {
	m.Until, m.Since = Time(m.Until), Time(m.Since)
	m.LastFrom, m.LastTo = Time(m.LastFrom), Time(m.LastTo)
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encode maintenance mode: %w", err)
	}
	return string(b), nil
}

// ReadMaintenance reads the maintenance mode with a store's MetaGet; off
// when it was never set.
func ReadMaintenance(ctx context.Context, metaGet func(context.Context, string) (string, error)) (store.Maintenance, error) {
	v, err := metaGet(ctx, MaintenanceKey)
	if errors.Is(err, store.ErrNotFound) {
		return store.Maintenance{}, nil
	}
	if err != nil {
		return store.Maintenance{}, err
	}
	return UnmarshalMaintenance(v)
}

// UnmarshalMaintenance decodes what MarshalMaintenance encoded.
func UnmarshalMaintenance(s string) (store.Maintenance, error) {
	var m store.Maintenance
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return m, fmt.Errorf("decode maintenance mode: %w", err)
	}
	return m, nil
}

// ClaimCandidates is the query of the queued runs RunClaim considers, oldest
// first: those due by $1, $2 at most.
const ClaimCandidates = `SELECT ` + RunColumns + ` FROM runs
	WHERE status = 'queued' AND (not_before IS NULL OR not_before <= $1)
	ORDER BY id LIMIT $2`

// Claimer decides, in the order RunClaim considers the queued runs, which
// may start now. The store tells it what the database holds (the active
// runs per job, whether a run's rule has an earlier unfinished run) and
// it counts the runs it lets start.
type Claimer struct {
	Params store.RunClaimParams
	// Active counts the active runs of a job in the database.
	Active func(job string) (int, error)
	// RuleBusy reports whether a run of the rule is active, or queued with
	// an id below id.
	RuleBusy func(rule, id string) (bool, error)

	active  map[string]int
	claimed map[string]bool // rules with a run claimed in this pass
	busy    map[string]bool // rules found busy: their later runs wait too
	n       int
}

// ClaimMax is RunClaimParams.Max with its default.
func ClaimMax(p store.RunClaimParams) int {
	if p.Max <= 0 {
		return 100
	}
	return p.Max
}

// Done reports whether the claim has as many runs as it may take.
func (c *Claimer) Done() bool { return c.n >= ClaimMax(c.Params) }

// May reports whether run may start now; when it may, the Claimer counts
// it as started (call Claimed after the update, or Unclaim if it failed).
func (c *Claimer) May(run store.Run) (bool, error) {
	if c.active == nil {
		c.active, c.claimed, c.busy = map[string]int{}, map[string]bool{}, map[string]bool{}
	}
	if len(c.Params.Triggers) > 0 && !slices.Contains(c.Params.Triggers, run.Trigger) {
		return false, nil
	}
	if run.Serial {
		if c.claimed[run.Rule] || c.busy[run.Rule] {
			return false, nil
		}
		busy, err := c.RuleBusy(run.Rule, run.ID)
		if err != nil || busy {
			c.busy[run.Rule] = busy
			return false, err
		}
	}
	if limit := c.Params.JobLimits[run.Job]; limit > 0 {
		n, ok := c.active[run.Job]
		if !ok {
			var err error
			if n, err = c.Active(run.Job); err != nil {
				return false, err
			}
			c.active[run.Job] = n
		}
		if n >= limit {
			return false, nil
		}
	}
	return true, nil
}

// Claimed counts a run the store has started.
func (c *Claimer) Claimed(run store.Run) {
	c.active[run.Job]++
	c.claimed[run.Rule] = true
	c.n++
}

// Claim goes through the candidates in order and starts, with start, each
// that May start, until the claim has as many as it may take. start
// reports false for a run that is no longer queued (another agent claimed
// it, or it was cancelled).
func (c *Claimer) Claim(cands []store.Run, start func(id string) (store.Run, bool, error)) ([]store.Run, error) {
	var claimed []store.Run
	for _, cand := range cands {
		if c.Done() {
			break
		}
		ok, err := c.May(cand)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		run, ok, err := start(cand.ID)
		if err != nil {
			return nil, err
		}
		if ok {
			c.Claimed(run)
			claimed = append(claimed, run)
		}
	}
	return claimed, nil
}

// ClaimCandidateLimit is how many queued runs one RunClaim considers, the
// oldest due: a backlog of more runs that cannot start (a job at its
// limit, a serial rule's queue, scheduled runs during maintenance) holds
// back the queued runs behind it until it shrinks below this.
const ClaimCandidateLimit = 10_000

// ClaimUpdate starts one queued run ($1) on node $2 at $3, if it is still
// queued, and returns it.
const ClaimUpdate = `UPDATE runs SET status = 'running', node = $2, started_at = $3
	WHERE id = $1 AND status = 'queued' RETURNING ` + RunColumns

// RuleBusyQuery counts a rule's ($1) active runs and its queued runs older
// than $2.
// The two counts read the partial indexes of active and of queued runs, not
// the rule's history.
const RuleBusyQuery = `SELECT
	(SELECT COUNT(*) FROM runs WHERE rule = $1 AND status IN ` + ActiveStatuses + `) +
	(SELECT COUNT(*) FROM runs WHERE rule = $1 AND status = 'queued' AND id < $2)`

// RuleUnfinishedQuery counts a rule's ($1) active and queued runs, through
// the partial indexes of each, not the rule's history.
const RuleUnfinishedQuery = `SELECT
	(SELECT COUNT(*) FROM runs WHERE rule = $1 AND status IN ` + ActiveStatuses + `) +
	(SELECT COUNT(*) FROM runs WHERE rule = $1 AND status = 'queued')`

// JobActiveQuery counts a job's ($1) active runs.
const JobActiveQuery = `SELECT COUNT(*) FROM runs WHERE job = $1 AND status IN ` + ActiveStatuses

// PrefixEnd is the least string above every string that starts with
// prefix, in byte order: prefix with its last byte one higher. ok is false
// when that byte is not ASCII below DEL (the result might not be valid
// text), and the caller compares the start instead.
func PrefixEnd(prefix string) (string, bool) {
	if prefix == "" {
		return "", false
	}
	last := prefix[len(prefix)-1]
	if last >= 0x7e {
		return "", false
	}
	return prefix[:len(prefix)-1] + string(rune(last+1)), true
}

// HealthStatusList is the SQL list of store.HealthStatuses; the partial
// index runs_rule_ended (migration 0011) is on exactly this list, so a
// query must spell it so for the planner to use that index.
const HealthStatusList = "('succeeded', 'failed', 'cancelled', 'interrupted')"

// HealthLastFinishes is the part of RuleHealthList's summary query that
// reads, for the rule n.name, the latest finished_at of its runs in each
// of store.HealthStatuses, in that order, each one (rule, status) range
// of the partial index runs_rule_status_finished (migration 0011) read
// from its newest end. last(status) is the dialect's subquery of one
// status; it must keep the index's WHERE (HealthStatusList) for SQLite's
// planner to use the index.
func HealthLastFinishes(last func(status string) string) string {
	cols := make([]string, len(store.HealthStatuses))
	for i, st := range store.HealthStatuses {
		cols[i] = "(" + last(string(st)) + ")"
	}
	return strings.Join(cols, ",\n\t\t\t")
}

// HealthEnds is a RuleHealth with the last success, last failure and last
// ended status that the latest finishes of a rule's runs in each of
// store.HealthStatuses (in that order, zero for none) make.
func HealthEnds(last []time.Time) store.RuleHealth {
	var h store.RuleHealth
	for i, st := range store.HealthStatuses {
		at := last[i]
		if at.IsZero() {
			continue
		}
		switch st {
		case api.StatusSucceeded:
			h.LastSuccess = at
		case api.StatusFailed:
			h.LastFailure = at
		}
		if store.EndedLater(st, at, h.LastEnded, h.LastEndedAt) {
			h.LastEnded, h.LastEndedAt = st, at
		}
	}
	return h
}

// HealthAssemble builds RuleHealthList's answer: every name maps to a
// RuleHealth, recent runs (in any order) are put oldest first and cut to
// the window, and the last runs are attached by id.
func HealthAssemble(names []string, summary map[string]store.RuleHealth, lastIDs map[string]string, last []store.Run, recent map[string][]store.HealthRun) map[string]store.RuleHealth {
	out := make(map[string]store.RuleHealth, len(names))
	byID := make(map[string]*store.Run, len(last))
	for i := range last {
		byID[last[i].ID] = &last[i]
	}
	for _, n := range names {
		h := summary[n]
		if id, ok := lastIDs[n]; ok {
			h.LastRun = byID[id]
		}
		rs := recent[n]
		sort.Slice(rs, func(i, j int) bool { return rs[i].ID < rs[j].ID })
		if len(rs) > api.HealthWindow {
			rs = rs[len(rs)-api.HealthWindow:]
		}
		h.Recent = rs
		out[n] = h
	}
	return out
}
