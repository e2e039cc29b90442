// Package postgres is the store that several agents share: one PostgreSQL
// database reached through a pgx connection pool. It is the only package that
// imports pgx (its test helper pgtest aside), and it translates pgx's errors
// into the store's: no rows is store.ErrNotFound, a unique violation is
// store.ErrConflict, a server that cannot be reached is store.ErrUnavailable.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/puddle/v2"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/internal/storeutil"
)

// defaultConnectTimeout bounds each connection attempt when the URL sets no
// connect_timeout, so a server that drops packets fails Open instead of
// hanging it.
const defaultConnectTimeout = 10 * time.Second

// Store keeps the agent's state in PostgreSQL. It implements store.Store.
type Store struct {
	pool    *pgxpool.Pool
	closed  sync.Once
	cluster cluster

	creates  *storeutil.Batcher[createReq, createRes]
	finishes *storeutil.Batcher[store.RunFinishParams, store.Run]
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at url (postgres://user@host:port/db?...),
// checks that it answers, and migrates it to the newest schema this agent
// knows. Open fails with an error wrapping store.ErrUnavailable when the
// server cannot be reached, and store.ErrSchemaTooNew when a newer agent
// migrated the database.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The error may quote the URL, password included: say only what is wrong.
		return nil, errors.New("open postgres database: the URL is not a valid postgres:// URL or connection string")
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, dbErr(err, "open postgres database")
	}
	s := &Store{pool: pool}
	s.initBatchers()
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, dbErr(err, "open postgres database %s", where(cfg))
	}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// where names the database without its password, for error messages.
func where(cfg *pgxpool.Config) string {
	return fmt.Sprintf("%s@%s:%d/%s", cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
}

// Kind returns "postgres".
func (s *Store) Kind() string { return "postgres" }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return dbErr(err, "ping postgres database")
	}
	return nil
}

// Close closes every connection of the pool; it waits for connections in
// use to be returned. Calling it again does nothing.
func (s *Store) Close() error {
	s.closed.Do(func() {
		s.closeCluster()
		s.pool.Close()
	})
	return nil
}

// Exec runs one statement and returns the rows it affected.
func (s *Store) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := s.pool.Exec(ctx, query, args...)
	if err != nil {
		return 0, dbErr(err, "exec")
	}
	return tag.RowsAffected(), nil
}

// tx runs fn in one transaction and commits if fn returns nil.
func (s *Store) tx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return dbErr(err, "begin transaction")
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return dbErr(err, "commit")
	}
	return nil
}

// dbErr wraps err with what was being done, in the store's own errors.
// A server error is quoted, not wrapped, so nothing above sees pgx's types.
func dbErr(err error, format string, args ...any) error {
	op := fmt.Sprintf(format, args...)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	// Failing to connect is unavailability, whatever the server said
	// (a database not accepting connections answers 55000, say).
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return fmt.Errorf("%s: %w: %w", op, store.ErrUnavailable, err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "23505": // unique_violation
			return fmt.Errorf("%s: %w", op, store.ErrConflict)
		case unavailableCode(pgErr.Code):
			return fmt.Errorf("%s: %w: %s", op, store.ErrUnavailable, pgErr.Message)
		}
		return fmt.Errorf("%s: %s", op, pgErr.Error())
	}
	if unavailable(err) {
		return fmt.Errorf("%s: %w: %w", op, store.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// unavailableCode reports SQLSTATEs that mean the server cannot serve us now:
// connection exceptions, a server shutting down or starting, too many
// connections, a database that is gone, or a full disk (which the agent
// retries like an outage, as it does SQLite's).
func unavailableCode(code string) bool {
	switch code {
	case "57P01", "57P02", "57P03", "53300", "3D000", "53100":
		return true
	}
	return strings.HasPrefix(code, "08")
}

// unavailable reports errors of reaching the server rather than of the
// statement: failed connects, broken connections, timeouts from a server that
// does not answer.
func unavailable(err error) bool {
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) || errors.As(err, &netErr) ||
		pgconn.SafeToRetry(err) || pgconn.Timeout(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, puddle.ErrClosedPool) || errors.Is(err, pgconn.ErrConnClosed)
}

// Times are timestamptz: written as given (already UTC and truncated to the
// microsecond), read back in UTC. A NULL is the zero time.

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func fromNullTime(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}
