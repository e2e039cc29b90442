package builtin

import (
	"context"
	"errors"
	"fmt"

	"github.com/jobbridge/jobbridge/jobs"
)

// Execer runs one statement on the agent's own database; placeholders are $1, $2, ...
type Execer interface {
	// Exec runs query with args and returns how many rows it changed.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
}

// SQL is the original module's example job ("Update Orders' SomeColumn"):
// it adds its increment parameter to some_column of the demo orders in the
// agent's database (table demo_orders, created and seeded by the store's
// migrations).
type SQL struct {
	db Execer
}

// NewSQL returns the orders.increment job, which updates through db.
func NewSQL(db Execer) *SQL { return &SQL{db: db} }

// ID implements jobs.Job.
func (*SQL) ID() string { return "orders.increment" }

// Description implements jobs.Job.
func (*SQL) Description() string {
	return "Increments some_column of every demo order (or of one, by name) by the given value."
}

// Params implements jobs.Job.
func (*SQL) Params() []jobs.Param {
	return []jobs.Param{
		{Name: "increment", Type: jobs.TypeInt, Required: true, Description: "How much every demo order's some_column grows (may be negative)."},
		{Name: "name", Description: "Only the order with this name; every order when empty."},
	}
}

// Run implements jobs.Job.
func (j *SQL) Run(ctx context.Context, params jobs.Params) error {
	increment, err := params.Int("increment")
	if err != nil {
		return fmt.Errorf("orders.increment: the increment parameter is missing or invalid: %w", err)
	}
	if j.db == nil {
		return errors.New("orders.increment: no database was given to the job")
	}
	query, args := "UPDATE demo_orders SET some_column = some_column + $1", []any{increment}
	name := params.String("name")
	if name != "" {
		query += " WHERE name = $2"
		args = append(args, name)
	}
	rows, err := j.db.Exec(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("orders.increment: update demo_orders: %w", err)
	}
	log := jobs.Logger(ctx)
	if name != "" && rows == 0 {
		log.Warn(fmt.Sprintf("orders.increment: no order is named %q", name))
	}
	log.Info(fmt.Sprintf("orders.increment: added %d to some_column of %d orders", increment, rows))
	jobs.Progress(ctx, 100, fmt.Sprintf("%d orders updated", rows))
	return nil
}
