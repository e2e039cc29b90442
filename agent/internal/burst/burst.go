// Package burst is the "midnight burst" harness behind `agent bench burst`:
// many rules whose schedule fires at the same minute, measured against a
// real agent in a process of its own, as users deploy it.
//
//	harness process                         agent process (child)
//	---------------                         ---------------------
//	create the rules  --POST /api/v1/rules-->  store (SQLite in the temp dir,
//	local: wait for the minute                  or a scratch PostgreSQL db)
//	eventbridge: deliver --POST /webhook/run->  runner -> demo job
//	read the runs back <--GET /api/v1/runs---
//
// In local mode the agent's own scheduler fires every rule at one minute;
// in eventbridge mode the harness stands in for EventBridge calling the API
// destination (the agent's scheduler is off): one delivery per rule, open
// loop at EventBridge's invocation rate, a share of them delivered twice as
// EventBridge's at-least-once delivery does, answers other than 2xx retried.
// Either way the figures come from what the agent recorded (each run's
// start and finish), read back through the API.
package burst

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store/postgres"
	"github.com/jobbridge/jobbridge/shared/client"
)

// Mode is how the rules fire.
type Mode string

// The modes.
const (
	// ModeLocal: the agent's local scheduler fires every rule at one minute.
	ModeLocal Mode = "local"
	// ModeEventBridge: the harness delivers to the webhook as EventBridge's
	// API destination does; the agent's scheduler is off.
	ModeEventBridge Mode = "eventbridge"
)

// Defaults of Config (and of the command's flags).
const (
	DefaultRules   = 10_000
	DefaultRate    = 300 // EventBridge's default API-destination invocation rate
	DefaultTimeout = 10 * time.Minute
	DefaultJob     = "demo"
	// DefaultJobParams is the rules' parameters: the cheapest run of demo.
	DefaultJobParams = `{"duration":"0s","steps":"1"}`
)

// Bounds the command checks its flags against.
const (
	MaxRules = 100_000
	MaxRate  = 10_000
	// MaxDuplicates is the largest share of deliveries sent twice.
	MaxDuplicates = 0.5
)

// Config says what to measure. Fields left zero take the defaults above,
// except Duplicates (zero: none) and PostgresURL (empty: SQLite).
type Config struct {
	// Agent is the executable of the agent under test; it is started with
	// no arguments, so it serves. Required.
	Agent string
	// Mode is local (the default) or eventbridge.
	Mode Mode
	// Rules is how many rules fire at once. Default 10,000.
	Rules int
	// Job is the rules' job. Default demo.
	Job string
	// JobParams are the rules' parameters. Default DefaultJobParams.
	JobParams map[string]string
	// Rate is eventbridge mode's deliveries per second. Default 300.
	Rate int
	// Duplicates is the share of eventbridge mode's rules whose delivery is
	// sent a second time with the same event id. Default 0.
	Duplicates float64
	// PostgresURL names a PostgreSQL server on which a scratch database is
	// created for the agent and dropped afterwards; empty: SQLite in the
	// temporary directory.
	PostgresURL string
	// Timeout bounds the wait for every run to finish after the burst.
	// Default 10 minutes.
	Timeout time.Duration
	// Keep keeps the temporary directory (the agent's data dir, its log)
	// instead of removing it. It is kept, and named, when Run fails too.
	Keep bool
	// Progress receives a line at each step. Default: discarded.
	Progress io.Writer
}

func (c Config) withDefaults() Config {
	if c.Mode == "" {
		c.Mode = ModeLocal
	}
	if c.Rules == 0 {
		c.Rules = DefaultRules
	}
	if c.Job == "" {
		c.Job = DefaultJob
	}
	if c.JobParams == nil {
		c.JobParams = map[string]string{"duration": "0s", "steps": "1"}
	}
	if c.Rate == 0 {
		c.Rate = DefaultRate
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	return c
}

func (c Config) check() error {
	switch {
	case c.Agent == "":
		return errors.New("no agent executable to measure")
	case c.Mode != ModeLocal && c.Mode != ModeEventBridge:
		return fmt.Errorf("mode %q is not local or eventbridge", c.Mode)
	case c.Rules < 1 || c.Rules > MaxRules:
		return fmt.Errorf("rules %d is not 1-%d", c.Rules, MaxRules)
	case c.Rate < 1 || c.Rate > MaxRate:
		return fmt.Errorf("rate %d is not 1-%d", c.Rate, MaxRate)
	case c.Duplicates < 0 || c.Duplicates > MaxDuplicates:
		return fmt.Errorf("duplicates %g is not 0-%g", c.Duplicates, MaxDuplicates)
	case c.Timeout < 0:
		return fmt.Errorf("timeout %s is negative", c.Timeout)
	}
	return nil
}

// Run measures one burst and returns its report. An error means it could
// not measure (the agent did not start, the rules could not be created, the
// rules were created too late for the minute, ctx was cancelled); figures
// that miss their targets are not errors. Whatever happens, the agent is
// stopped and the scratch database dropped before Run returns.
func Run(ctx context.Context, cfg Config) (rep *Report, err error) {
	cfg = cfg.withDefaults()
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("burst: %w", err)
	}
	progress := func(format string, args ...any) {
		fmt.Fprintf(cfg.Progress, "burst: "+format+"\n", args...)
	}
	dir, err := os.MkdirTemp("", "jobbridge-burst-")
	if err != nil {
		return nil, fmt.Errorf("burst: make the temporary directory: %w", err)
	}
	defer func() {
		switch {
		case err != nil:
			err = fmt.Errorf("%w\n(the agent's data dir and log are kept in %s)", err, dir)
		case cfg.Keep:
			rep.TempDir = dir
		default:
			_ = os.RemoveAll(dir)
		}
	}()
	// Clean-up runs after ctx is done too (Ctrl-C), with time of its own.
	cleanup := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	}

	rep = &Report{Mode: cfg.Mode, Store: "sqlite", Rules: cfg.Rules, Job: cfg.Job, JobParams: cfg.JobParams}
	var databaseURL string
	if cfg.PostgresURL != "" {
		db, err := postgres.CreateScratchDatabase(ctx, cfg.PostgresURL, "jobbridge_burst_")
		if err != nil {
			return nil, fmt.Errorf("burst: %w", err)
		}
		defer func() {
			cctx, cancel := cleanup()
			defer cancel()
			if derr := db.Drop(cctx); derr != nil {
				err = errors.Join(err, fmt.Errorf("burst: %w", derr))
			}
		}()
		progress("scratch database %s", db.Name)
		rep.Store, rep.Database = "postgres", db.Name
		databaseURL = db.URL
	}

	scheduler := "local"
	if cfg.Mode == ModeEventBridge {
		scheduler = "off"
	}
	ag, err := startAgent(ctx, agentSpec{
		exe: cfg.Agent, dir: dir, scheduler: scheduler, databaseURL: databaseURL,
		adminToken: randomHex(24), webhookKey: randomHex(24),
	})
	if err != nil {
		return nil, fmt.Errorf("burst: %w", err)
	}
	defer func() {
		cctx, cancel := cleanup()
		defer cancel()
		if serr := ag.stop(cctx); serr != nil {
			err = errors.Join(err, fmt.Errorf("burst: %w", serr))
		}
		if err == nil {
			rep.AgentLog = summarizeLog(ag.logPath)
		}
	}()
	progress("agent %s serving at %s (pid %d, scheduler %s, store %s)", cfg.Agent, ag.url, ag.pid(), scheduler, rep.Store)

	api := client.New(ag.url, ag.adminToken, client.WithHTTPClient(&http.Client{Transport: newTransport(8)}))
	if st, err := api.Status(ctx); err == nil {
		rep.AgentVersion = st.Version
	}
	b := &bench{cfg: cfg, api: api, agent: ag, rep: rep, progress: progress}
	switch cfg.Mode {
	case ModeLocal:
		err = b.local(ctx)
	case ModeEventBridge:
		err = b.eventBridge(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("burst: %w", err)
	}
	rep.evaluate()
	return rep, nil
}

// bench is one measurement under way.
type bench struct {
	cfg      Config
	api      *client.Client
	agent    *agentProc
	rep      *Report
	progress func(format string, args ...any)
}

// ruleNames names the burst's rules burst-00001 ... in order.
func ruleNames(n int) []string {
	width := len(fmt.Sprint(n))
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("burst-%0*d", width, i+1)
	}
	return names
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newTransport is a keep-alive transport to the agent on loopback for up
// to conns connections at once.
func newTransport(conns int) *http.Transport {
	return &http.Transport{
		Proxy:               nil, // loopback: never through the caller's proxy
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
}
