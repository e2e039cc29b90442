package tui_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/agent/agenttest"
	"github.com/jobbridge/jobbridge/shared/api"
)

// agentSide fills into the agent's answers what the agent side of issue 16,
// built alongside the console, serves: a run's attempt, retryOf, notBefore,
// slow flag and series of attempts, a rule's missed fire, the status's
// maintenance mode and count of rules missing. The runs' columns are seeded
// in the store (agenttest); the agent on this branch does not read them
// yet. It fills only what the answer leaves empty, so once the agent
// serves these fields it changes nothing, and the tests stand as they are.
type agentSide struct {
	mu          sync.Mutex
	runs        map[string]api.Run   // seeded runs by id
	missed      map[string]time.Time // a rule's missed fire
	maintenance *api.Maintenance
	missing     int
	// refuseUnforced answers a run now or a restart without force with
	// the agent's 409 while maintenance is on; nForced counts those sent
	// with force.
	refuseUnforced bool
	nForced        int
}

func (s *agentSide) forced() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nForced
}

// refuse answers a manual run without force while maintenance is on, as
// the agent does, and counts the forced ones; nil lets r through.
func (s *agentSide) refuse(r *http.Request) (*http.Response, error) {
	path := strings.TrimPrefix(r.URL.Path, "/api/v1")
	if r.Method != http.MethodPost || !strings.HasSuffix(path, "/trigger") && !strings.HasSuffix(path, "/restart") {
		return nil, nil
	}
	var params api.RunParams
	if r.Body != nil {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		_ = json.Unmarshal(body, &params)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if params.Force {
		s.nForced++
		return nil, nil
	}
	if !s.refuseUnforced || s.maintenance == nil {
		return nil, nil
	}
	body, _ := json.Marshal(api.Problem{Type: api.ProblemMaintenance, Status: http.StatusConflict, Title: "Conflict",
		Detail: "maintenance mode is on (db upgrade): send force to run anyway"})
	return &http.Response{StatusCode: http.StatusConflict, Header: http.Header{"Content-Type": {"application/problem+json"}},
		Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: r}, nil
}

func newAgentSide() *agentSide {
	return &agentSide{runs: map[string]api.Run{}, missed: map[string]time.Time{}}
}

// setupSide is setup with side filling in the agent's answers; seed may
// seed runs through side.addRuns.
func setupSide(t *testing.T, token string, w, h int, start string, seed func(a *agenttest.Agent, side *agentSide)) (*fixture, *agentSide) {
	t.Helper()
	side := newAgentSide()
	f := startConsole(t, agenttest.Options{Scheduler: agent.SchedulerLocal}, token, w, h, start,
		func(a *agenttest.Agent) { seed(a, side) }, side)
	return f, side
}

// addRuns seeds runs in the agent's store and remembers them.
func (s *agentSide) addRuns(a *agenttest.Agent, runs ...api.Run) {
	a.AddRuns(runs...)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range runs {
		s.runs[r.ID] = r
	}
}

func (s *agentSide) setMaintenance(m *api.Maintenance) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maintenance = m
}

// fill rewrites the JSON answer to a GET of runs, rules or the status.
func (s *agentSide) fill(r *http.Request, resp *http.Response) error {
	path := strings.TrimPrefix(r.URL.Path, "/api/v1")
	if r.Method != http.MethodGet || resp.StatusCode != http.StatusOK || strings.HasSuffix(path, "/log") {
		return nil
	}
	var edit func(body []byte) (any, error)
	switch {
	case path == "/runs":
		edit = func(b []byte) (any, error) {
			var p api.Page[api.Run]
			err := json.Unmarshal(b, &p)
			for i := range p.Items {
				s.fillRun(&p.Items[i], false)
			}
			return p, err
		}
	case strings.HasPrefix(path, "/runs/") && strings.Count(path, "/") == 2:
		edit = func(b []byte) (any, error) {
			var run api.Run
			err := json.Unmarshal(b, &run)
			s.fillRun(&run, true)
			return run, err
		}
	case path == "/rules":
		edit = func(b []byte) (any, error) {
			var p api.Page[api.Rule]
			err := json.Unmarshal(b, &p)
			for i := range p.Items {
				s.fillRule(&p.Items[i])
			}
			return p, err
		}
	case strings.HasPrefix(path, "/rules/") && strings.Count(path, "/") == 2:
		edit = func(b []byte) (any, error) {
			var rule api.Rule
			err := json.Unmarshal(b, &rule)
			s.fillRule(&rule)
			return rule, err
		}
	case path == "/status":
		edit = func(b []byte) (any, error) {
			var st api.Status
			err := json.Unmarshal(b, &st)
			s.mu.Lock()
			defer s.mu.Unlock()
			if st.Maintenance == nil {
				st.Maintenance = s.maintenance
			}
			if st.Missing == 0 {
				st.Missing = s.missing
			}
			return st, err
		}
	default:
		return nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	v, err := edit(body)
	if err != nil {
		return fmt.Errorf("agentSide: read %s: %w", path, err)
	}
	if body, err = json.Marshal(v); err != nil {
		return err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Del("Content-Length")
	return nil
}

func (s *agentSide) fillRun(r *api.Run, withAttempts bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seeded, ok := s.runs[r.ID]
	if !ok {
		return
	}
	if r.Attempt <= 1 {
		r.Attempt = max(1, seeded.Attempt)
	}
	if r.RetryOf == "" {
		r.RetryOf = seeded.RetryOf
	}
	if r.NotBefore == nil {
		r.NotBefore = seeded.NotBefore
	}
	r.Slow = r.Slow || seeded.Slow && r.Status.Active()
	if !withAttempts || len(r.Attempts) > 0 {
		return
	}
	first := r.ID
	if r.RetryOf != "" {
		first = r.RetryOf
	}
	var series []api.Run
	for _, o := range s.runs {
		if o.ID == first || o.RetryOf == first {
			series = append(series, o)
		}
	}
	if len(series) < 2 {
		return
	}
	sort.Slice(series, func(i, j int) bool { return series[i].ID < series[j].ID })
	for _, o := range series {
		r.Attempts = append(r.Attempts, api.RunSummary{ID: o.ID, Status: o.Status, CreatedAt: o.CreatedAt, FinishedAt: o.FinishedAt})
	}
}

func (s *agentSide) fillRule(r *api.Rule) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if at, ok := s.missed[r.Name]; ok && r.MissedFire == nil {
		r.MissedFire = &at
	}
}
