package builtin_test

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/jobs/builtin"
)

// fakeDB is an Execer that records statements and answers with rows or err.
type fakeDB struct {
	rows  int64
	err   error
	query string
	args  []any
	calls int
}

func (db *fakeDB) Exec(_ context.Context, query string, args ...any) (int64, error) {
	db.calls++
	db.query, db.args = query, args
	return db.rows, db.err
}

func TestSQLIncrementsEveryOrder(t *testing.T) {
	t.Parallel()
	db := &fakeDB{rows: 3}
	job := builtin.NewSQL(db)
	ctx, _, rec := runContext(t)
	if err := job.Run(ctx, resolve(t, job, map[string]string{"increment": "5"})); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if want := "UPDATE demo_orders SET some_column = some_column + $1"; db.query != want {
		t.Errorf("query = %q, want %q", db.query, want)
	}
	if want := []any{int64(5)}; !reflect.DeepEqual(db.args, want) {
		t.Errorf("args = %#v, want %#v", db.args, want)
	}
	if !rec.hasLine(slog.LevelInfo, "added 5 to some_column of 3 orders") {
		t.Errorf("the log does not say how many rows changed:%s", rec.dump())
	}
	if p := rec.Progresses(); len(p) != 1 || p[0].percent != 100 {
		t.Errorf("progress = %v, want one report of 100", p)
	}
}

func TestSQLIncrementsOneOrderByName(t *testing.T) {
	t.Parallel()
	db := &fakeDB{rows: 1}
	job := builtin.NewSQL(db)
	ctx, _, _ := runContext(t)
	if err := job.Run(ctx, resolve(t, job, map[string]string{"increment": "-2", "name": "bravo"})); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if want := "UPDATE demo_orders SET some_column = some_column + $1 WHERE name = $2"; db.query != want {
		t.Errorf("query = %q, want %q", db.query, want)
	}
	if want := []any{int64(-2), "bravo"}; !reflect.DeepEqual(db.args, want) {
		t.Errorf("args = %#v, want %#v", db.args, want)
	}
}

func TestSQLWarnsWhenNoOrderHasTheName(t *testing.T) {
	t.Parallel()
	job := builtin.NewSQL(&fakeDB{rows: 0})
	ctx, _, rec := runContext(t)
	if err := job.Run(ctx, resolve(t, job, map[string]string{"increment": "1", "name": "zulu"})); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !rec.hasLine(slog.LevelWarn, `no order is named "zulu"`) {
		t.Errorf("no warning about the unknown name:%s", rec.dump())
	}
}

func TestSQLRefusesAMissingOrInvalidIncrement(t *testing.T) {
	t.Parallel()
	for _, params := range []jobs.Params{{}, {"increment": "ten"}} {
		db := &fakeDB{}
		ctx, _, _ := runContext(t)
		err := builtin.NewSQL(db).Run(ctx, params)
		if err == nil || !strings.Contains(err.Error(), "increment parameter is missing or invalid") {
			t.Errorf("params %v: Run error = %v, want the increment refused", params, err)
		}
		if db.calls != 0 {
			t.Errorf("params %v: the database was called anyway", params)
		}
	}
}

func TestSQLWrapsTheDatabaseError(t *testing.T) {
	t.Parallel()
	dbErr := errors.New("no such table: demo_orders")
	job := builtin.NewSQL(&fakeDB{err: dbErr})
	ctx, _, _ := runContext(t)
	err := job.Run(ctx, resolve(t, job, map[string]string{"increment": "1"}))
	if !errors.Is(err, dbErr) || !strings.Contains(err.Error(), "update demo_orders") {
		t.Errorf("Run error = %v, want the database's error wrapped with what was done", err)
	}
}
