//go:build linux

package builtin

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/internal/testutil/wait"
)

// A program dies with the agent, but not with whichever thread happened to
// start it: Linux sends the parent-death signal when that thread ends, and
// Go ends a thread when a goroutine locked to it returns (golang/go#27505).
func TestProgramOutlivesTheThreadThatAskedForIt(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("sleep", "60")
	startInOwnGroup(cmd)
	type result struct {
		tid int
		err error
	}
	started := make(chan result, 1)
	var res result
	for res.tid == 0 {
		go func() {
			runtime.LockOSThread()
			tid := syscall.Gettid()
			if tid == os.Getpid() {
				// The main thread, which Go never ends: try again.
				runtime.UnlockOSThread()
				started <- result{}
				return
			}
			// Never unlocked: the thread ends with this goroutine.
			started <- result{tid, startProgram(cmd)}
		}()
		res = <-started
	}
	if res.err != nil {
		t.Fatalf("start: %v", res.err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	// The kernel signals a thread's children as the thread exits, before
	// its task leaves /proc.
	task := "/proc/self/task/" + strconv.Itoa(res.tid)
	wait.For(t, 30*time.Second, func() (bool, string) {
		_, err := os.Stat(task)
		return errors.Is(err, fs.ErrNotExist), fmt.Sprintf("thread %d, whose goroutine returned locked to it, is still there", res.tid)
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("signal the program: %v", err)
	}
	_ = cmd.Wait()
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
		t.Fatalf("the program ended by %v, want alive until our SIGTERM: the end of the thread that asked for its start killed it", cmd.ProcessState)
	}
}

// What a killed agent leaves to the next is keyed on the leader's start
// time, read before the leader is waited for.
func TestProcessStartTimeIsTheLeadersOwn(t *testing.T) {
	t.Parallel()
	self, ok := processStartTime(os.Getpid())
	if !ok || self == 0 {
		t.Fatalf("start time of this process: %d, %v", self, ok)
	}
	if _, ok := processStartTime(-1); ok {
		t.Error("a start time for pid -1")
	}
}
