package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/internal/storeutil"
)

// RunProcessSet records the process group of a run; see store.Store.
func (s *Store) RunProcessSet(ctx context.Context, p store.RunProcess) error {
	col, err := storeutil.MarshalProcess(p)
	if err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, `UPDATE runs SET process = $2 WHERE id = $1`, p.RunID, col)
	return affectedOne(tag, err, "record the process group of run %s", p.RunID)
}

// RunProcessList lists the process groups recorded with runs of node (of
// any node when node is empty), by run id.
func (s *Store) RunProcessList(ctx context.Context, node string) ([]store.RunProcess, error) {
	rows, _ := s.pool.Query(ctx, `SELECT id, process FROM runs
		WHERE process IS NOT NULL AND ($1 = '' OR node = $1) ORDER BY id`, node)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.RunProcess, error) {
		var id, col string
		if err := row.Scan(&id, &col); err != nil {
			return store.RunProcess{}, err
		}
		return storeutil.UnmarshalProcess(id, col)
	})
	if err != nil {
		return nil, dbErr(err, "list the process groups of node %q", node)
	}
	if out == nil {
		out = []store.RunProcess{}
	}
	return out, nil
}

// RunProcessForget forgets the process groups recorded with these runs.
func (s *Store) RunProcessForget(ctx context.Context, runIDs []string) error {
	if len(runIDs) == 0 {
		return nil
	}
	if _, err := s.pool.Exec(ctx, `UPDATE runs SET process = NULL WHERE id = ANY($1)`, runIDs); err != nil {
		return dbErr(err, "forget the process groups of %d run(s)", len(runIDs))
	}
	return nil
}
