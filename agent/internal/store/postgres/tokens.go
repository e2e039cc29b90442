package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/internal/storeutil"
)

const tokenColumns = "name, role, hash, created_at, last_used_at"

func scanToken(row pgx.Row) (store.Token, error) {
	var (
		t        store.Token
		role     string
		lastUsed pgtype.Timestamptz
	)
	if err := row.Scan(&t.Name, &role, &t.Hash, &t.CreatedAt, &lastUsed); err != nil {
		return t, err
	}
	t.Role = store.Role(role)
	t.CreatedAt = t.CreatedAt.UTC()
	t.LastUsedAt = fromNullTime(lastUsed)
	return t, nil
}

// TokenCreate stores a token; CreatedAt defaults to now. ErrConflict if the
// name or the hash is taken.
func (s *Store) TokenCreate(ctx context.Context, t store.Token) error {
	created := storeutil.Time(t.CreatedAt)
	if created.IsZero() {
		created = storeutil.Now()
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO tokens (`+tokenColumns+`) VALUES ($1, $2, $3, $4, $5)`,
		t.Name, string(t.Role), t.Hash, created, nullTime(storeutil.Time(t.LastUsedAt)))
	if err != nil {
		return dbErr(err, "create token %q", t.Name)
	}
	return nil
}

// TokenGetByHash returns the token with the given hash, or ErrNotFound.
func (s *Store) TokenGetByHash(ctx context.Context, hash string) (store.Token, error) {
	t, err := scanToken(s.pool.QueryRow(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE hash = $1`, hash))
	if err != nil {
		return store.Token{}, dbErr(err, "get token by hash")
	}
	return t, nil
}

// TokenList returns every token, by name.
func (s *Store) TokenList(ctx context.Context) ([]store.Token, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+tokenColumns+` FROM tokens ORDER BY name`)
	tokens, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Token, error) { return scanToken(row) })
	if err != nil {
		return nil, dbErr(err, "list tokens")
	}
	return tokens, nil
}

// TokenDelete deletes the named token; ErrNotFound if there is none.
func (s *Store) TokenDelete(ctx context.Context, name string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM tokens WHERE name = $1`, name)
	return affectedOne(tag, err, "delete token %q", name)
}

// TokenTouch records when a token was last used; ErrNotFound if there is none.
func (s *Store) TokenTouch(ctx context.Context, name string, at time.Time) error {
	at = storeutil.Time(at)
	if at.IsZero() {
		at = storeutil.Now()
	}
	tag, err := s.pool.Exec(ctx, `UPDATE tokens SET last_used_at = $2 WHERE name = $1`, name, at)
	return affectedOne(tag, err, "touch token %q", name)
}
