package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jobbridge/jobbridge/agent/internal/store/internal/storeutil"
)

// The statements of a run's path (its creation, its finish with its log)
// are prepared once on the writer's connection when the store opens:
// SQLite parses a statement each time one is prepared, and parsing was
// the largest part of the writer's work at a thousand runs a second.
const (
	hotDeliveredRun = iota
	hotActiveRun
	hotUnfinishedOfRule
	hotJobLoad
	hotInsertRun
	hotInsertDelivery
	hotFinish
	hotInsertLog
	hotCount
)

var hotQueries = [hotCount]string{
	hotDeliveredRun: `SELECT ` + storeutil.RunColumns + ` FROM runs
		WHERE id = (SELECT run_id FROM deliveries WHERE event_id = $1)`,
	hotActiveRun:        `SELECT id FROM runs WHERE rule = $1 AND status IN ` + storeutil.ActiveStatuses + ` ORDER BY id LIMIT 1`,
	hotUnfinishedOfRule: storeutil.RuleUnfinishedQuery,
	// A job's active runs, and its queued runs due by $2 (which a new run
	// queues behind).
	hotJobLoad: `SELECT
			(SELECT COUNT(*) FROM runs WHERE job = $1 AND status IN ` + storeutil.ActiveStatuses + `),
			(SELECT COUNT(*) FROM runs WHERE job = $1 AND status = 'queued' AND (not_before IS NULL OR not_before <= $2))`,
	hotInsertRun: `INSERT INTO runs (` + storeutil.RunColumns + `)
		VALUES (` + storeutil.Placeholders(1, storeutil.RunColumnCount) + `)`,
	hotInsertDelivery: `INSERT INTO deliveries (event_id, run_id, received_at) VALUES ($1, $2, $3)`,
	// A finish, with its progress (when $7) and room for its $10 log lines
	// in log_seq, which it returns after the run.
	hotFinish: `UPDATE runs SET status = $2, error = $3, finished_at = $4,
			cancelled_by = CASE WHEN cancelled_by = '' THEN $5 ELSE cancelled_by END,
			cancel_reason = CASE WHEN cancelled_by = '' THEN $6 ELSE cancel_reason END,
			interrupt_presumed = 0,
			progress_percent = CASE WHEN $7 THEN $8 ELSE progress_percent END,
			progress_message = CASE WHEN $7 THEN $9 ELSE progress_message END,
			log_seq = log_seq + $10,
			output = CASE WHEN $11 <> '' THEN $11 ELSE output END
		WHERE id = $1 AND (status IN ` + storeutil.ActiveStatuses + ` OR interrupt_presumed)
		RETURNING ` + storeutil.RunColumns + `, log_seq`,
	hotInsertLog: `INSERT INTO run_logs (run_id, seq, time, level, message) VALUES ($1, $2, $3, $4, $5)`,
}

// hotStmts are the writer's prepared statements. They are not closed on
// their own: closing the database releases them, and a late caller then
// gets the closed database's error, which the store reports unavailable.
type hotStmts [hotCount]*sql.Stmt

// prepare prepares every statement on db, the writer.
func (h *hotStmts) prepare(ctx context.Context, db *sql.DB) error {
	return prepareAll(ctx, db, hotQueries[:], h[:])
}

// stmt returns statement i for use in tx: the one prepared on the writer's
// connection, which is tx's.
func (h *hotStmts) stmt(ctx context.Context, tx *sql.Tx, i int) *sql.Stmt {
	if h[i] == nil {
		panic(fmt.Sprintf("sqlite: statement %d used before the store was opened", i))
	}
	return tx.StmtContext(ctx, h[i])
}

// The reads of a run and of a token by its hash, which every API call and
// every console refresh make, are prepared once on the readers' pool (on
// each of its connections as it first uses them).
const (
	readRun = iota
	readTokenByHash
	readCount
)

var readQueries = [readCount]string{
	readRun:         `SELECT ` + storeutil.RunColumns + `, output FROM runs WHERE id = $1`,
	readTokenByHash: `SELECT ` + tokenColumns + ` FROM tokens WHERE hash = $1`,
}

// readStmts are the readers' prepared statements.
type readStmts [readCount]*sql.Stmt

func (r *readStmts) prepare(ctx context.Context, db *sql.DB) error {
	return prepareAll(ctx, db, readQueries[:], r[:])
}

// prepareAll prepares queries on db into stmts, in order.
func prepareAll(ctx context.Context, db *sql.DB, queries []string, stmts []*sql.Stmt) error {
	for i, q := range queries {
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			return dbErr(err, "prepare statement %d", i)
		}
		stmts[i] = st
	}
	return nil
}
