package cli_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/postgres"
	"github.com/jobbridge/jobbridge/agent/internal/store/postgres/pgtest"
	"github.com/jobbridge/jobbridge/agent/internal/store/sqlite"
	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/localagent"
)

// BenchmarkIdleRSS measures the resident memory of the real agent binary
// while it idles, on each store, empty and with 1,000,000 runs stored (the
// target: under 50 MB, and the same with the million). 1,000 runs stored
// tell what the history's size costs from what a full page of runs costs
// (the visits read one). The runs are
// seeded straight into the database before the agent starts; the agent
// then runs with its default settings and the local scheduler, and is left
// to settle, visited as an idle agent is (a metrics scrape, /status, the
// runs list, a console's first page with its event stream open), and left
// again. It reports VmRSS at the end (rss-MB), before the visits
// (ready-rss-MB) and the peak (hwm-MB), all from /proc. Each op starts one
// agent; run it with -benchtime 1x:
//
//	go test ./agent/cli -run '^$' -bench IdleRSS -benchtime 1x
func BenchmarkIdleRSS(b *testing.B) {
	for _, kind := range []string{"sqlite", "postgres"} {
		for _, runs := range []int{0, 1_000, 1_000_000} {
			name := kind + "/empty"
			if runs > 0 {
				name = fmt.Sprintf("%s/runs=%d", kind, runs)
			}
			b.Run(name, func(b *testing.B) { benchIdle(b, kind, runs) })
		}
	}
}

// idleSettle is how long the agent is left alone after it is ready and
// again after the visits: long enough for the prune at start, the
// scheduler's first pass and a garbage collection or two.
const idleSettle = 5 * time.Second

func benchIdle(b *testing.B, kind string, runs int) {
	agentBinary(b) // skips under -short, and builds before anything is seeded
	dir := b.TempDir()
	env := []string{"JOBBRIDGE_SCHEDULER=local", "JOBBRIDGE_ADMIN_TOKEN=" + adminToken}
	var st store.Store
	var err error
	switch kind {
	case "sqlite":
		st, err = sqlite.Open(context.Background(), filepath.Join(dir, localagent.DatabaseFile))
	case "postgres":
		dbURL := pgtest.NewDatabase(b)
		env = append(env, "JOBBRIDGE_DATABASE_URL="+dbURL)
		st, err = postgres.Open(context.Background(), dbURL)
	}
	if err != nil {
		b.Fatal(err)
	}
	seedHistory(b, st, runs)
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}

	b.ResetTimer()
	for range b.N {
		m := idleAgent(b, dir, env, runs)
		b.ReportMetric(m.ready, "ready-rss-MB")
		b.ReportMetric(m.rss, "rss-MB")
		b.ReportMetric(m.hwm, "hwm-MB")
	}
}

type idleMemory struct{ ready, rss, hwm float64 }

// idleAgent starts the agent on a store holding runs runs, lets it settle,
// visits it, lets it settle again and reads its memory; then stops it.
func idleAgent(b *testing.B, dir string, env []string, runs int) idleMemory {
	began := time.Now()
	p := startAgent(b, dir, env...)
	p.waitReady(b)
	b.Logf("agent ready in %s", time.Since(began).Round(time.Millisecond))
	defer func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		_ = p.cmd.Wait()
	}()
	pid := p.cmd.Process.Pid
	time.Sleep(idleSettle)
	var m idleMemory
	m.ready, _ = procMemory(b, pid)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	get := func(path string) *http.Response {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatalf("GET %s: %v", path, err)
		}
		if resp.StatusCode != http.StatusOK {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			b.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		return resp
	}
	fetch := func(path string) {
		resp := get(path)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	var st api.Status
	resp := get("/api/v1/status")
	err := json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	var total int64
	for _, n := range st.Runs {
		total += n
	}
	if err != nil || total != int64(runs) {
		b.Fatalf("/api/v1/status counts %d runs (%v), want the %d seeded", total, err, runs)
	}

	// A console stays open: its event stream is held until the end.
	stream := get("/api/v1/events")
	defer stream.Body.Close()
	for range 3 {
		fetch("/metrics")                   // a Prometheus scrape
		fetch("/api/v1/status")             // a status check, and the console's header
		fetch("/api/v1/runs")               // a script's look at the runs list
		fetch("/api/v1/runs?limit=200")     // the console's first page
		fetch("/api/v1/rules")              // and its rules view
		fetch("/api/v1/runs?status=failed") // a filtered page
		time.Sleep(time.Second)
	}
	time.Sleep(idleSettle)
	m.rss, m.hwm = procMemory(b, pid)
	return m
}

// procMemory reads a process's resident memory now (VmRSS) and at its peak
// (VmHWM), in MB.
func procMemory(b *testing.B, pid int) (rss, hwm float64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Skipf("no /proc to read the agent's memory from: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 64)
		if err != nil {
			b.Fatalf("/proc/%d/status: %s: %v", pid, sc.Text(), err)
		}
		if name == "VmRSS" {
			rss = kb / 1024
		} else {
			hwm = kb / 1024
		}
	}
	if err := sc.Err(); err != nil {
		b.Fatal(err)
	}
	return rss, hwm
}
