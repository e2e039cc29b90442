package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/internal/storeutil"
)

var _ store.SecretsSupport = (*Store)(nil)

// MetaGet returns the value recorded under name, or store.ErrNotFound.
func (s *Store) MetaGet(ctx context.Context, name string) (string, error) {
	var v string
	if err := s.pool.QueryRow(ctx, `SELECT value FROM meta WHERE name = $1`, name).Scan(&v); err != nil {
		return "", dbErr(err, "read %s from meta", name)
	}
	return v, nil
}

// MetaInit records value under name unless one is recorded, and returns
// the value recorded now. An agent inserting at the same moment as another
// waits for the other's transaction, then reads its value.
func (s *Store) MetaInit(ctx context.Context, name, value string) (string, error) {
	var got string
	err := s.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, name, value)
		if err != nil {
			return dbErr(err, "record %s in meta", name)
		}
		if err := tx.QueryRow(ctx, `SELECT value FROM meta WHERE name = $1`, name).Scan(&got); err != nil {
			return dbErr(err, "record %s in meta", name)
		}
		return nil
	})
	return got, err
}

// RuleRewriteParams rewrites stored rule parameters in one transaction; see
// store.SecretsSupport. The rules are read FOR UPDATE: an agent doing the
// same at once waits, then reads what this one wrote.
func (s *Store) RuleRewriteParams(ctx context.Context, fn func(store.Rule) (map[string]string, bool, error)) (int, error) {
	n := 0
	err := s.tx(ctx, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT `+ruleColumns+` FROM rules ORDER BY name FOR UPDATE`)
		rules, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Rule, error) { return scanRule(row) })
		if err != nil {
			return dbErr(err, "rewrite rule parameters: read rules")
		}
		n, err = storeutil.RewriteParams(rules, fn, func(name, params string) error {
			if _, err := tx.Exec(ctx, `UPDATE rules SET parameters = $2 WHERE name = $1`, name, params); err != nil {
				return dbErr(err, "rewrite parameters of rule %q", name)
			}
			return nil
		})
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
