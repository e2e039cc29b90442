package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/internal/storeutil"
	"github.com/jobbridge/jobbridge/shared/api"
)

const ruleColumns = `name, job, schedule, enabled, parameters, description, timeout_ns, overlap,
	sync_state, sync_error, sync_arn, sync_at, created_at, updated_at, notify,
	timezone, start_date, end_date, flexible_window_ns, policy, chains, version`

func scanRule(row interface{ Scan(...any) error }) (store.Rule, error) {
	var (
		r               store.Rule
		docs            storeutil.RuleDocs
		timeout         int64
		overlap         string
		syncAt          sql.NullInt64
		created, update int64
		start, end      sql.NullInt64
		window          int64
	)
	err := row.Scan(&r.Name, &r.Job, &r.Schedule, &r.Enabled, &docs.Params, &r.Description, &timeout, &overlap,
		&r.Sync.State, &r.Sync.Error, &r.Sync.ARN, &syncAt, &created, &update, &docs.Notify,
		&r.Timezone, &start, &end, &window, &docs.Policy, &docs.Chains, &r.Version)
	if err != nil {
		return r, err
	}
	if err := storeutil.DecodeRuleDocs(&r, docs); err != nil {
		return r, err
	}
	r.Timeout = time.Duration(timeout)
	r.Overlap = api.Overlap(overlap)
	r.Sync.At = fromNullMicros(syncAt)
	r.CreatedAt = fromMicros(created)
	r.UpdatedAt = fromMicros(update)
	r.StartDate, r.EndDate = fromNullMicros(start), fromNullMicros(end)
	r.FlexibleWindow = time.Duration(window)
	return r, nil
}

// RuleCreate stores a new rule, at version 1; CreatedAt and UpdatedAt
// default to now. ErrConflict if the name is taken.
func (s *Store) RuleCreate(ctx context.Context, r store.Rule) (store.Rule, error) {
	r = storeutil.PrepareRule(r)
	r.Version = 1
	docs, err := storeutil.EncodeRuleDocs(r, "create")
	if err != nil {
		return store.Rule{}, err
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO rules (`+ruleColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)`,
		r.Name, r.Job, r.Schedule, r.Enabled, docs.Params, r.Description, int64(r.Timeout), string(r.Overlap),
		r.Sync.State, r.Sync.Error, r.Sync.ARN, nullMicros(r.Sync.At), micros(r.CreatedAt), micros(r.UpdatedAt), docs.Notify,
		r.Timezone, nullMicros(r.StartDate), nullMicros(r.EndDate), int64(r.FlexibleWindow), docs.Policy, docs.Chains, r.Version)
	if err != nil {
		return store.Rule{}, dbErr(err, "create rule %q", r.Name)
	}
	return r, nil
}

// RuleGet returns the named rule, or ErrNotFound.
func (s *Store) RuleGet(ctx context.Context, name string) (store.Rule, error) {
	r, err := scanRule(s.r.QueryRowContext(ctx, `SELECT `+ruleColumns+` FROM rules WHERE name = $1`, name))
	if err != nil {
		return store.Rule{}, dbErr(err, "get rule %q", name)
	}
	return r, nil
}

// RuleList returns every rule, by name.
func (s *Store) RuleList(ctx context.Context) ([]store.Rule, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+ruleColumns+` FROM rules ORDER BY name`)
	if err != nil {
		return nil, dbErr(err, "list rules")
	}
	defer rows.Close()
	rules := []store.Rule{}
	for rows.Next() {
		r, err := scanRule(rows)
		if err != nil {
			return nil, dbErr(err, "list rules")
		}
		rules = append(rules, r)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(err, "list rules")
	}
	return rules, nil
}

// RuleUpdate replaces everything of a rule but its CreatedAt (UpdatedAt
// defaults to now) if it is at r.Version (any when 0), and returns it as
// stored, one version on; see store.Store.
func (s *Store) RuleUpdate(ctx context.Context, r store.Rule) (store.Rule, error) {
	r = storeutil.PrepareRule(r)
	docs, err := storeutil.EncodeRuleDocs(r, "update")
	if err != nil {
		return store.Rule{}, err
	}
	row := s.w.QueryRowContext(ctx, `UPDATE rules SET job = $2, schedule = $3, enabled = $4, parameters = $5,
		description = $6, timeout_ns = $7, overlap = $8, sync_state = $9, sync_error = $10, sync_arn = $11,
		sync_at = $12, updated_at = $13, notify = $14, timezone = $15, start_date = $16, end_date = $17,
		flexible_window_ns = $18, policy = $19, chains = $20, version = version + 1
		WHERE name = $1 AND `+storeutil.RuleVersionCond("$21")+` RETURNING `+ruleColumns,
		r.Name, r.Job, r.Schedule, r.Enabled, docs.Params, r.Description, int64(r.Timeout), string(r.Overlap),
		r.Sync.State, r.Sync.Error, r.Sync.ARN, nullMicros(r.Sync.At), micros(r.UpdatedAt), docs.Notify,
		r.Timezone, nullMicros(r.StartDate), nullMicros(r.EndDate), int64(r.FlexibleWindow), docs.Policy, docs.Chains, r.Version)
	got, err := scanRule(row)
	if err != nil {
		return store.Rule{}, s.staleOr(ctx, err, r.Name, r.Version, "update rule %q", r.Name)
	}
	return got, nil
}

// RuleDelete deletes the named rule; its runs stay. ErrNotFound if it does
// not exist.
func (s *Store) RuleDelete(ctx context.Context, name string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM rules WHERE name = $1`, name)
	return affectedOne(res, err, "delete rule %q", name)
}

// RuleSetSync records a rule's state in the scheduler backend without
// touching its UpdatedAt. ErrNotFound if the rule does not exist.
func (s *Store) RuleSetSync(ctx context.Context, name string, sy store.Sync) error {
	res, err := s.w.ExecContext(ctx, `UPDATE rules SET sync_state = $2, sync_error = $3, sync_arn = $4, sync_at = $5
		WHERE name = $1`, name, sy.State, sy.Error, sy.ARN, nullMicros(storeutil.Time(sy.At)))
	return affectedOne(res, err, "set sync state of rule %q", name)
}

// affectedOne turns a statement that changed no row into ErrNotFound.
func affectedOne(res sql.Result, err error, format string, args ...any) error {
	if err != nil {
		return dbErr(err, format, args...)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return dbErr(err, format, args...)
	}
	if n == 0 {
		return dbErr(sql.ErrNoRows, format, args...)
	}
	return nil
}

// RuleDeleteIf deletes the named rule if it is at version (any when 0);
// see store.Store.
func (s *Store) RuleDeleteIf(ctx context.Context, name string, version int64) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM rules WHERE name = $1 AND `+storeutil.RuleVersionCond("$2"), name, version)
	err = affectedOne(res, err, "delete rule %q", name)
	if errors.Is(err, store.ErrNotFound) {
		return s.staleOr(ctx, sql.ErrNoRows, name, version, "delete rule %q", name)
	}
	return err
}

// staleOr is the error of a write to a rule that expected version and
// failed with err: when it changed no row (sql.ErrNoRows) and the rule
// exists, a *store.StaleError with the version it has; else dbErr.
func (s *Store) staleOr(ctx context.Context, err error, name string, version int64, format string, args ...any) error {
	if version == 0 || !errors.Is(err, sql.ErrNoRows) {
		return dbErr(err, format, args...)
	}
	var current int64
	if qerr := s.w.QueryRowContext(ctx, `SELECT version FROM rules WHERE name = $1`, name).Scan(&current); qerr != nil {
		return dbErr(qerr, format, args...)
	}
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), &store.StaleError{Rule: name, Expected: version, Current: current})
}
