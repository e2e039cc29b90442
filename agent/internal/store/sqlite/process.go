package sqlite

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/internal/storeutil"
)

// RunProcessSet records the process group of a run; see store.Store.
func (s *Store) RunProcessSet(ctx context.Context, p store.RunProcess) error {
	col, err := storeutil.MarshalProcess(p)
	if err != nil {
		return err
	}
	res, err := s.w.ExecContext(ctx, `UPDATE runs SET process = $2 WHERE id = $1`, p.RunID, col)
	return affectedOne(res, err, "record the process group of run %s", p.RunID)
}

// runProcessListQuery reads the runs with a process group through the
// partial index of those runs, a handful at most. Left to itself, SQLite's
// planner (which has no statistics) scans every run in id order to spare
// the sort: with a long history that read the whole table at each start.
const runProcessListQuery = `SELECT id, process FROM runs INDEXED BY runs_process_node
	WHERE process IS NOT NULL AND ($1 = '' OR node = $1) ORDER BY id`

// RunProcessList lists the process groups recorded with runs of node (of
// any node when node is empty), by run id.
func (s *Store) RunProcessList(ctx context.Context, node string) ([]store.RunProcess, error) {
	rows, err := s.r.QueryContext(ctx, runProcessListQuery, node)
	if err != nil {
		return nil, dbErr(err, "list the process groups of node %q", node)
	}
	defer rows.Close()
	out := []store.RunProcess{}
	for rows.Next() {
		var id, col string
		if err := rows.Scan(&id, &col); err != nil {
			return nil, dbErr(err, "list the process groups of node %q", node)
		}
		p, err := storeutil.UnmarshalProcess(id, col)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(err, "list the process groups of node %q", node)
	}
	return out, nil
}

// RunProcessForget forgets the process groups recorded with these runs, a
// few hundred at a time (SQLite caps a statement's parameters).
func (s *Store) RunProcessForget(ctx context.Context, runIDs []string) error {
	for batch := range slices.Chunk(runIDs, 500) {
		marks := make([]string, len(batch))
		args := make([]any, len(batch))
		for i, id := range batch {
			marks[i], args[i] = "$"+strconv.Itoa(i+1), id
		}
		q := `UPDATE runs SET process = NULL WHERE id IN (` + strings.Join(marks, ", ") + `)`
		if _, err := s.w.ExecContext(ctx, q, args...); err != nil {
			return dbErr(err, "forget the process groups of %d run(s)", len(runIDs))
		}
	}
	return nil
}
