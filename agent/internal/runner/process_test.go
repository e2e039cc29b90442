package runner_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/jobbridge/jobbridge/agent/internal/procgroup"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/storetesting"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/shared/api"
)

// A process group a job reports is recorded with its run before the job
// goes on, so that the next agent can stop it if this one is killed, and
// forgotten once the job has returned, having stopped it.
func TestReportedProcessGroupIsRecordedWhileTheJobRuns(t *testing.T) {
	t.Parallel()
	storetesting.Each(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		reported, release := make(chan struct{}), make(chan struct{})
		job := funcJob{id: "group", run: func(ctx context.Context, _ jobs.Params) error {
			jobs.ProcessStarted(ctx, jobs.Process{PGID: 4242, StartTime: 77, Tag: "JOBBRIDGE_PROCESS_TAG=abc"})
			close(reported)
			<-release
			return nil
		}}
		e := newEnv(t, s, 0, job)
		run := start(t, e, e.rule(t, store.Rule{Name: "r", Job: "group"}))
		<-reported
		got, err := s.RunProcessList(ctx, "node-1")
		want := []store.RunProcess{{RunID: run.ID, PGID: 4242, StartTime: 77, BootID: procgroup.BootID(), Tag: "JOBBRIDGE_PROCESS_TAG=abc"}}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("recorded while the job runs: %+v (%v), want %+v", got, err, want)
		}
		close(release)
		e.waitStatus(t, run.ID, api.StatusSucceeded)
		if got, err := s.RunProcessList(ctx, ""); err != nil || len(got) != 0 {
			t.Errorf("recorded after the job returned: %+v (%v), want none", got, err)
		}
	})
}
