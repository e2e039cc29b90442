package store_test

import (
	"errors"
	"testing"
	"testing/fstest"

	"github.com/jobbridge/jobbridge/agent/internal/store"
)

func TestLoadMigrationsInVersionOrder(t *testing.T) {
	fsys := fstest.MapFS{
		"m/0002_more.sql": {Data: []byte("two")},
		"m/0001_init.sql": {Data: []byte("one")},
		"m/README.md":     {Data: []byte("not a migration")},
	}
	ms, err := store.LoadMigrations(fsys, "m")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Version != 1 || ms[0].SQL != "one" || ms[1].Version != 2 || ms[1].Name != "0002_more.sql" {
		t.Fatalf("got %+v, want 0001_init then 0002_more", ms)
	}
}

func TestLoadMigrationsRejectsBadSequences(t *testing.T) {
	for name, files := range map[string][]string{
		"gap":       {"0001_a.sql", "0003_c.sql"},
		"repeat":    {"0001_a.sql", "0001_b.sql"},
		"no number": {"init.sql"},
		"zero":      {"0000_a.sql"},
	} {
		fsys := fstest.MapFS{}
		for _, f := range files {
			fsys["m/"+f] = &fstest.MapFile{Data: []byte("x")}
		}
		if ms, err := store.LoadMigrations(fsys, "m"); err == nil {
			t.Errorf("%s: %v loaded as %+v, want an error", name, files, ms)
		}
	}
}

func TestCheckSchemaVersion(t *testing.T) {
	if err := store.CheckSchemaVersion(3, 3); err != nil {
		t.Fatalf("same version: %v", err)
	}
	if err := store.CheckSchemaVersion(0, 3); err != nil {
		t.Fatalf("older database: %v", err)
	}
	err := store.CheckSchemaVersion(7, 3)
	want := "database schema is version 7, this agent knows up to 3: upgrade the agent"
	if !errors.Is(err, store.ErrSchemaTooNew) || err.Error() != want {
		t.Fatalf("newer database: got %v, want %q wrapping ErrSchemaTooNew", err, want)
	}
}
