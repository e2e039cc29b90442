// Package sqlite is the store of a single agent: one SQLite file, opened with
// modernc.org/sqlite (pure Go, no cgo). It is the only package that imports
// that driver.
//
// SQLite allows one writer at a time. Rather than let concurrent writers
// collide and wait out SQLITE_BUSY, every write goes through a pool of exactly
// one connection whose transactions begin IMMEDIATE, so writes queue in Go and
// a transaction never has to upgrade a read lock. Reads use a separate pool of
// read-only connections; in WAL mode they never wait for the writer.
//
// Open also takes an exclusive lock on a ".lock" file beside the database
// file's real path (symlinks resolved, so that a symlinked data dir or file
// leads to the same lock): two agents on one file would both believe they
// own its running runs. The database's files are its owner's alone (0600).
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/jobbridge/jobbridge/agent/internal/retry"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/internal/storeutil"
)

// busyTimeout is how long a connection waits for a lock held by another
// connection (a checkpoint, or a reader during a WAL reset) before failing.
const busyTimeout = 5 * time.Second

// Store keeps the agent's state in one SQLite file. It implements store.Store.
type Store struct {
	path   string
	w      *sql.DB // one connection: every write, in order
	r      *sql.DB // read-only connections
	lock   *fileLock
	closed sync.Once
	err    error

	hot    hotStmts                           // the writer's prepared statements
	reads  readStmts                          // the readers'.
	writes *storeutil.Batcher[write, written] // runs' creations and finishes
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the SQLite database at path, migrates it to
// the newest schema this agent knows, and locks it for this process. The
// directory must exist. Open fails with an error wrapping
// store.ErrSchemaTooNew if a newer agent migrated the file, and with
// *InUseError if another agent has it open.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("open sqlite database %q: the path must be non-empty and contain no ? or #", path)
	}
	resolved, err := realPath(path)
	if err != nil {
		return nil, err
	}
	lock, err := takeLock(ctx, path, resolved)
	if err != nil {
		return nil, err
	}
	if err := makePrivate(resolved); err != nil {
		lock.release()
		return nil, err
	}
	s := &Store{path: path, lock: lock}
	s.initBatchers()
	if err := s.open(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) open(ctx context.Context) error {
	var err error
	if s.w, err = sql.Open("sqlite", dsn(s.path, false)); err != nil {
		return fmt.Errorf("open sqlite database %s: %w", s.path, err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)
	if err := s.w.PingContext(ctx); err != nil {
		return dbErr(err, "open sqlite database %s", s.path)
	}
	if err := s.migrate(ctx); err != nil {
		return err
	}
	if err := s.hot.prepare(ctx, s.w); err != nil {
		return err
	}
	if s.r, err = sql.Open("sqlite", dsn(s.path, true)); err != nil {
		return fmt.Errorf("open sqlite database %s: %w", s.path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	s.r.SetMaxOpenConns(n)
	s.r.SetMaxIdleConns(n)
	if err := s.r.PingContext(ctx); err != nil {
		return dbErr(err, "open sqlite database %s", s.path)
	}
	return s.reads.prepare(ctx, s.r)
}

// readerCacheKiB is the page cache of each read-only connection, in KiB
// (SQLite's default is 2,000). In WAL mode a reader drops its whole cache
// at its next read after any commit, so on a busy agent a big one buys
// nothing; on an idle one it only keeps what the last long read touched
// (counting the runs by status reads a whole index), which grows with the
// history up to 2 MB a connection. 256 KiB holds what a page of the runs
// list reads.
const readerCacheKiB = 256

// dsn gives every pooled connection the same settings: WAL, so readers and
// the writer do not block each other; NORMAL sync, which in WAL mode loses no
// committed data on an application crash; foreign keys, which SQLite leaves
// off by default; IMMEDIATE transactions on the writer, which keeps SQLite's
// default page cache (its cache lasts, as no other connection writes); a
// small page cache on the readers.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
		q.Add("_pragma", fmt.Sprintf("cache_size(-%d)", readerCacheKiB))
	} else {
		q.Set("_txlock", "immediate")
	}
	return path + "?" + q.Encode()
}

// Kind returns "sqlite".
func (s *Store) Kind() string { return "sqlite" }

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.r.PingContext(ctx); err != nil {
		return dbErr(err, "ping sqlite database %s", s.path)
	}
	return nil
}

// Close closes the database and releases the file lock. Calling it again
// returns the first call's result.
func (s *Store) Close() error {
	s.closed.Do(func() {
		var errs []error
		for _, db := range []*sql.DB{s.r, s.w} {
			if db != nil {
				errs = append(errs, db.Close())
			}
		}
		if s.lock != nil {
			errs = append(errs, s.lock.release())
		}
		if err := errors.Join(errs...); err != nil {
			s.err = fmt.Errorf("close sqlite database %s: %w", s.path, err)
		}
	})
	return s.err
}

// Exec runs one statement on the writer. $1, $2, ... are SQLite's own
// numbered parameters, so the query runs as written.
func (s *Store) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := s.w.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, dbErr(err, "exec")
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, dbErr(err, "exec: rows affected")
	}
	return n, nil
}

// tx runs fn in one IMMEDIATE transaction on the writer, and commits if fn
// returns nil.
func (s *Store) tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return dbErr(err, "begin transaction")
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return dbErr(err, "commit")
	}
	return nil
}

// errDBClosed is database/sql's error for a call on a closed *sql.DB (the
// store closed under a late caller). database/sql does not export it, so it
// is taken once from a DB closed at once, to be matched with errors.Is
// rather than by its text.
var errDBClosed = func() error {
	db := sql.OpenDB(noConnector{})
	db.Close()
	return db.PingContext(context.Background())
}()

// noConnector is a connector that never connects: errDBClosed's DB is
// closed before it would.
type noConnector struct{}

func (noConnector) Connect(context.Context) (driver.Conn, error) {
	return nil, errors.New("no connection")
}
func (noConnector) Driver() driver.Driver { return nil }

// dbErr wraps err with what was being done, translating the driver's errors
// into the store's: no row is ErrNotFound, a unique key taken is ErrConflict,
// a database that cannot be opened or stays locked is ErrUnavailable.
func dbErr(err error, format string, args ...any) error {
	op := fmt.Sprintf(format, args...)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	if errors.Is(err, sql.ErrConnDone) || errors.Is(err, errDBClosed) {
		return fmt.Errorf("%s: %w: %w", op, store.ErrUnavailable, err)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%s: %w", op, store.ErrConflict)
		}
		switch se.Code() & 0xff { // the primary result code
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN,
			sqlite3.SQLITE_IOERR, sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_FULL:
			return fmt.Errorf("%s: %w: %s", op, store.ErrUnavailable, se.Error())
		}
		return fmt.Errorf("%s: %s", op, se.Error())
	}
	return fmt.Errorf("%s: %w", op, err)
}

// Times are stored as INTEGER microseconds since the epoch, NULL for zero.

func micros(t time.Time) int64 { return t.UnixMicro() }

func nullMicros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func fromNullMicros(us sql.NullInt64) time.Time {
	if !us.Valid {
		return time.Time{}
	}
	return fromMicros(us.Int64)
}

// takeLock takes the database's lock file. A lock held only for an instant is
// not another agent: a child process this one starts (a command job, a test
// running the agent binary) holds a copy of the lock's descriptor from fork
// until exec closes it, and the lock stays taken while any copy is open. So
// a lock found taken is tried again for half a second before Open reports
// *InUseError.
func takeLock(ctx context.Context, path, resolved string) (*fileLock, error) {
	l, err := retry.Value(ctx, retry.Policy{
		Backoff: retry.Backoff{First: 5 * time.Millisecond, Max: 100 * time.Millisecond},
		Within:  500 * time.Millisecond,
		Retryable: func(err error) bool {
			var inUse *InUseError
			return errors.As(err, &inUse)
		},
	}, func(context.Context) (*fileLock, error) { return lockFile(path, resolved) })
	var inUse *InUseError
	if errors.As(err, &inUse) {
		return nil, inUse // as it is: the retries add nothing the operator needs
	}
	return l, err
}
