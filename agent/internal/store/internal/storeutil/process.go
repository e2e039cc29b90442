package storeutil

import (
	"encoding/json"
	"fmt"

	"github.com/jobbridge/jobbridge/agent/internal/store"
)

// storedProcess is how both stores keep a store.RunProcess: JSON in the
// runs.process column, NULL when none is recorded.
type storedProcess struct {
	PGID      int    `json:"pgid"`
	StartTime uint64 `json:"startTime,omitempty"`
	BootID    string `json:"bootId,omitempty"`
	Tag       string `json:"tag,omitempty"`
}

// MarshalProcess returns what the process column holds for p.
func MarshalProcess(p store.RunProcess) (string, error) {
	if p.RunID == "" || p.PGID <= 0 {
		return "", fmt.Errorf("record the process group of run %q: want a run id and a group id above 0, got %d", p.RunID, p.PGID)
	}
	b, err := json.Marshal(storedProcess{PGID: p.PGID, StartTime: p.StartTime, BootID: p.BootID, Tag: p.Tag})
	if err != nil {
		return "", fmt.Errorf("record the process group of run %s: %w", p.RunID, err)
	}
	return string(b), nil
}

// UnmarshalProcess reads the process column of run id.
func UnmarshalProcess(id, column string) (store.RunProcess, error) {
	var sp storedProcess
	if err := json.Unmarshal([]byte(column), &sp); err != nil {
		return store.RunProcess{}, fmt.Errorf("read the process group of run %s: %w", id, err)
	}
	return store.RunProcess{RunID: id, PGID: sp.PGID, StartTime: sp.StartTime, BootID: sp.BootID, Tag: sp.Tag}, nil
}
