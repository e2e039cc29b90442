package store

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Migration is one versioned change to a database's schema. Each dialect
// embeds its own files, numbered in one sequence, so a version means the same
// change on SQLite and on PostgreSQL.
type Migration struct {
	Version int    // from the file name: 0001_init.sql is version 1
	Name    string // the file name
	SQL     string
}

// LoadMigrations reads the files named NNNN_description.sql in dir of fsys,
// in version order. Versions must run 1, 2, 3, ... without gaps or repeats,
// so a missing file is caught when the agent is built, not in production.
func LoadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		if !ok {
			return nil, fmt.Errorf("migration %s: name must look like 0001_description.sql", name)
		}
		v, err := strconv.Atoi(num)
		if err != nil || v < 1 {
			return nil, fmt.Errorf("migration %s: name must start with a version number from 1 up", name)
		}
		body, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %s: expected version %d (versions must run 1, 2, 3, ... without gaps)", m.Name, i+1)
		}
	}
	return ms, nil
}

// CheckSchemaVersion returns an error wrapping ErrSchemaTooNew when the
// database records a schema version newer than the newest this agent knows:
// an older agent must not write to a schema it does not understand.
func CheckSchemaVersion(dbVersion, known int) error {
	if dbVersion > known {
		return schemaTooNewError{db: dbVersion, known: known}
	}
	return nil
}

// schemaTooNewError says both versions, and is ErrSchemaTooNew to errors.Is.
type schemaTooNewError struct{ db, known int }

func (e schemaTooNewError) Error() string {
	return fmt.Sprintf("database schema is version %d, this agent knows up to %d: upgrade the agent", e.db, e.known)
}

func (e schemaTooNewError) Unwrap() error { return ErrSchemaTooNew }
