package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/internal/storeutil"
)

const tokenColumns = "name, role, hash, created_at, last_used_at"

func scanToken(row scanner) (store.Token, error) {
	var (
		t        store.Token
		role     string
		created  int64
		lastUsed sql.NullInt64
	)
	if err := row.Scan(&t.Name, &role, &t.Hash, &created, &lastUsed); err != nil {
		return t, err
	}
	t.Role = store.Role(role)
	t.CreatedAt = fromMicros(created)
	t.LastUsedAt = fromNullMicros(lastUsed)
	return t, nil
}

// TokenCreate stores a token; CreatedAt defaults to now. ErrConflict if the
// name or the hash is taken.
func (s *Store) TokenCreate(ctx context.Context, t store.Token) error {
	created := storeutil.Time(t.CreatedAt)
	if created.IsZero() {
		created = storeutil.Now()
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO tokens (`+tokenColumns+`) VALUES ($1, $2, $3, $4, $5)`,
		t.Name, string(t.Role), t.Hash, micros(created), nullMicros(storeutil.Time(t.LastUsedAt)))
	if err != nil {
		return dbErr(err, "create token %q", t.Name)
	}
	return nil
}

// TokenGetByHash returns the token with the given hash, or ErrNotFound.
func (s *Store) TokenGetByHash(ctx context.Context, hash string) (store.Token, error) {
	t, err := scanToken(s.reads[readTokenByHash].QueryRowContext(ctx, hash))
	if err != nil {
		return store.Token{}, dbErr(err, "get token by hash")
	}
	return t, nil
}

// TokenList returns every token, by name.
func (s *Store) TokenList(ctx context.Context) ([]store.Token, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+tokenColumns+` FROM tokens ORDER BY name`)
	if err != nil {
		return nil, dbErr(err, "list tokens")
	}
	defer rows.Close()
	tokens := []store.Token{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, dbErr(err, "list tokens")
		}
		tokens = append(tokens, t)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(err, "list tokens")
	}
	return tokens, nil
}

// TokenDelete deletes the named token; ErrNotFound if there is none.
func (s *Store) TokenDelete(ctx context.Context, name string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM tokens WHERE name = $1`, name)
	return affectedOne(res, err, "delete token %q", name)
}

// TokenTouch records when a token was last used; ErrNotFound if there is none.
func (s *Store) TokenTouch(ctx context.Context, name string, at time.Time) error {
	at = storeutil.Time(at)
	if at.IsZero() {
		at = storeutil.Now()
	}
	res, err := s.w.ExecContext(ctx, `UPDATE tokens SET last_used_at = $2 WHERE name = $1`, name, micros(at))
	return affectedOne(res, err, "touch token %q", name)
}
