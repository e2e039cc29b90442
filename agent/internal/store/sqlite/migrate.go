package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/internal/storeutil"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrate applies, each in its own transaction, the embedded migrations the
// database has not recorded yet. The file lock already keeps other agents
// out, and the writer's transactions are IMMEDIATE, so nothing races it.
func (s *Store) migrate(ctx context.Context) error {
	migrations, err := store.LoadMigrations(migrationFiles, "migrations")
	if err != nil {
		return err
	}
	_, err = s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at INTEGER NOT NULL
	)`)
	if err != nil {
		return dbErr(err, "migrate sqlite database %s: create schema_migrations", s.path)
	}
	var current int
	err = s.w.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current)
	if err != nil {
		return dbErr(err, "migrate sqlite database %s: read schema version", s.path)
	}
	if err := store.CheckSchemaVersion(current, len(migrations)); err != nil {
		return fmt.Errorf("open sqlite database %s: %w", s.path, err)
	}
	for _, m := range migrations[current:] {
		err := s.tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`,
				m.Version, micros(storeutil.Now()))
			return err
		})
		if err != nil {
			return dbErr(err, "migrate sqlite database %s: apply %s", s.path, m.Name)
		}
	}
	return nil
}
