package postgres

import (
	"context"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/jobbridge/jobbridge/agent/internal/store"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLock is the pg_advisory_xact_lock key that agents starting at once
// take while they migrate, so only one applies each migration ("jobbrdg").
const migrationLock int64 = 0x6a6f6262726467

// migrate applies the embedded migrations the database has not recorded yet,
// each in its own transaction that first takes the migration lock and reads
// the recorded version again: another agent may have moved it meanwhile.
func (s *Store) migrate(ctx context.Context) error {
	migrations, err := store.LoadMigrations(migrationFiles, "migrations")
	if err != nil {
		return err
	}
	for {
		done := false
		err := s.tx(ctx, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
				return dbErr(err, "migrate postgres database: lock")
			}
			_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
				version    integer PRIMARY KEY,
				applied_at timestamptz NOT NULL DEFAULT now()
			)`)
			if err != nil {
				return dbErr(err, "migrate postgres database: create schema_migrations")
			}
			var current int
			if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
				return dbErr(err, "migrate postgres database: read schema version")
			}
			if err := store.CheckSchemaVersion(current, len(migrations)); err != nil {
				return fmt.Errorf("open postgres database: %w", err)
			}
			if current == len(migrations) {
				done = true
				return nil
			}
			m := migrations[current]
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return dbErr(err, "migrate postgres database: apply %s", m.Name)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, m.Version); err != nil {
				return dbErr(err, "migrate postgres database: record %s", m.Name)
			}
			return nil
		})
		if err != nil || done {
			return err
		}
	}
}
