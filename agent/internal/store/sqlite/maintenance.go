package sqlite

import (
	"context"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/internal/storeutil"
)

// MaintenanceGet returns the maintenance mode; off if it was never set.
func (s *Store) MaintenanceGet(ctx context.Context) (store.Maintenance, error) {
	return storeutil.ReadMaintenance(ctx, s.MetaGet)
}

// MaintenanceSet records the maintenance mode.
func (s *Store) MaintenanceSet(ctx context.Context, m store.Maintenance) error {
	v, err := storeutil.MarshalMaintenance(m)
	if err != nil {
		return err
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO meta (name, value) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, storeutil.MaintenanceKey, v)
	if err != nil {
		return dbErr(err, "record maintenance mode")
	}
	return nil
}
