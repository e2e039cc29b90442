package sqlite

import (
	"context"
	"database/sql"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/internal/storeutil"
)

var _ store.SecretsSupport = (*Store)(nil)

// MetaGet returns the value recorded under name, or store.ErrNotFound.
func (s *Store) MetaGet(ctx context.Context, name string) (string, error) {
	var v string
	if err := s.r.QueryRowContext(ctx, `SELECT value FROM meta WHERE name = $1`, name).Scan(&v); err != nil {
		return "", dbErr(err, "read %s from meta", name)
	}
	return v, nil
}

// MetaInit records value under name unless one is recorded, and returns
// the value recorded now.
func (s *Store) MetaInit(ctx context.Context, name, value string) (string, error) {
	var got string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, name, value)
		if err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE name = $1`, name).Scan(&got)
	})
	if err != nil {
		return "", dbErr(err, "record %s in meta", name)
	}
	return got, nil
}

// RuleRewriteParams rewrites stored rule parameters in one transaction; see
// store.SecretsSupport. What it replaces may be plaintext secrets, so it
// makes SQLite zero the space the old values leave (secure_delete) and then
// checkpoints and empties the WAL, which still holds the old pages.
func (s *Store) RuleRewriteParams(ctx context.Context, fn func(store.Rule) (map[string]string, bool, error)) (int, error) {
	conn, err := s.w.Conn(ctx) // the one writer connection, for its pragmas
	if err != nil {
		return 0, dbErr(err, "rewrite rule parameters")
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA secure_delete = ON`); err != nil {
		return 0, dbErr(err, "rewrite rule parameters: secure_delete")
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA secure_delete = OFF`) //nolint:errcheck // only costs speed if it stays on

	n, err := rewriteParams(ctx, conn, fn)
	if err != nil || n == 0 {
		return n, err
	}
	// Best effort: a reader holding an old snapshot keeps part of the WAL
	// until it is done; the next checkpoint then overwrites it.
	var busy, logged, done int
	if err := conn.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logged, &done); err != nil {
		return n, dbErr(err, "rewrite rule parameters: checkpoint")
	}
	return n, nil
}

func rewriteParams(ctx context.Context, conn *sql.Conn, fn func(store.Rule) (map[string]string, bool, error)) (int, error) {
	tx, err := conn.BeginTx(ctx, nil) // IMMEDIATE, as every writer transaction
	if err != nil {
		return 0, dbErr(err, "rewrite rule parameters: begin")
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	rows, err := tx.QueryContext(ctx, `SELECT `+ruleColumns+` FROM rules ORDER BY name`)
	if err != nil {
		return 0, dbErr(err, "rewrite rule parameters: read rules")
	}
	var rules []store.Rule
	for rows.Next() {
		r, err := scanRule(rows)
		if err != nil {
			rows.Close()
			return 0, dbErr(err, "rewrite rule parameters: read rules")
		}
		rules = append(rules, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, dbErr(err, "rewrite rule parameters: read rules")
	}
	n, err := storeutil.RewriteParams(rules, fn, func(name, params string) error {
		if _, err := tx.ExecContext(ctx, `UPDATE rules SET parameters = $2 WHERE name = $1`, name, params); err != nil {
			return dbErr(err, "rewrite parameters of rule %q", name)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, dbErr(err, "rewrite rule parameters: commit")
	}
	return n, nil
}
