package builtin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/jobbridge/jobbridge/jobs"
)

// DefaultKillGrace is how long a command job's program has to exit after
// SIGTERM before it is sent SIGKILL.
const DefaultKillGrace = 5 * time.Second

// outputDrain is how long a run waits for its program's output to end once
// the program's process group is gone; only a process that left the group
// can still hold it open, and it is not waited for longer.
const outputDrain = time.Second

// paramEnvPrefix starts the environment variable that carries a parameter.
const paramEnvPrefix = "JOBBRIDGE_PARAM_"

// ProcessTagEnv is the variable whose value, random for each run, marks the
// processes a command job's program starts; see jobs.Process.
const ProcessTagEnv = "JOBBRIDGE_PROCESS_TAG"

// newProcessTag returns the ProcessTagEnv entry of one run.
func newProcessTag() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("make the process tag: %w", err)
	}
	return ProcessTagEnv + "=" + hex.EncodeToString(b), nil
}

// Command is a job that runs a program fixed when the job is built, passing
// the run's parameters in its environment as JOBBRIDGE_PARAM_<NAME> (the
// name upper-cased). Parameters never choose what runs.
//
// The program gets a clean environment, not the agent's: PATH, HOME, LANG
// and TZ as the agent has them, the variables named by WithPassEnv, the
// entries given by WithEnv, and the parameters. Nothing else of the agent's
// (cloud credentials, database passwords, its own settings) reaches it.
//
// The program runs in a process group of its own. Its standard output goes
// to the run's log at info level and its standard error at warn level, one
// entry per line. On cancellation the whole group gets SIGTERM and, after
// the kill grace, SIGKILL; processes the program leaves behind in its group
// when it exits are stopped the same way, so nothing outlives its run. On
// Linux the program also dies with the agent (SIGKILL), and the group is
// reported with jobs.ProcessStarted, marked by ProcessTagEnv in its
// environment, so the next agent stops what an agent killed outright left.
//
// The program may record its run's output (see jobs.SetOutput): it finds
// in OutputFileEnv (JOBBRIDGE_OUTPUT_FILE) the path of a file, not yet made,
// in a directory of its own (mode 0700, removed when the run ends), and
// writes one JSON value there, of at most jobs.MaxOutputBytes (64 KiB) as
// written. No file, or one of only white space, is no output. The file is
// read once the program has exited, whether it succeeded or not: a program
// that failed keeps the output it wrote, which may say why. A file that is
// too large, not one JSON value, or not a regular file fails a run that
// otherwise succeeded, the log and the error saying what is wrong (never
// what the file holds); a run that failed anyway keeps its own error and
// the log notes the bad output.
type Command struct {
	id          string
	description string
	argv        []string
	params      []jobs.Param
	commandConfig
}

type commandConfig struct {
	dir       string
	env       []string
	passEnv   []string
	killGrace time.Duration
}

// CommandOption configures a command job.
type CommandOption func(*commandConfig)

// WithDir runs the program in dir; by default it runs in the agent's
// working directory.
func WithDir(dir string) CommandOption { return func(c *commandConfig) { c.dir = dir } }

// WithEnv adds "NAME=value" entries to the program's environment.
func WithEnv(extra ...string) CommandOption {
	return func(c *commandConfig) { c.env = append(c.env, extra...) }
}

// WithPassEnv passes the agent's own variables of these names, when set, to
// the program, beside PATH, HOME, LANG and TZ. An admin lists them (JOBBRIDGE_COMMAND_ENV);
// the names are read when the job runs.
func WithPassEnv(names ...string) CommandOption {
	return func(c *commandConfig) { c.passEnv = append(c.passEnv, names...) }
}

// baseEnv names the agent's variables every command job's program gets.
var baseEnv = []string{"PATH", "HOME", "LANG", "TZ"}

// WithKillGrace sets how long the program has between SIGTERM and SIGKILL
// (default DefaultKillGrace; zero sends SIGKILL at once).
func WithKillGrace(d time.Duration) CommandOption {
	return func(c *commandConfig) { c.killGrace = d }
}

// NewCommand returns a job with the given id that runs argv (the program,
// then its arguments) and declares params. It refuses an invalid id, an empty
// argv, malformed extra environment and a negative kill grace.
func NewCommand(id, description string, argv []string, params []jobs.Param, opts ...CommandOption) (*Command, error) {
	c := &Command{
		id:            id,
		description:   description,
		argv:          append([]string(nil), argv...),
		params:        append([]jobs.Param(nil), params...),
		commandConfig: commandConfig{killGrace: DefaultKillGrace},
	}
	for _, opt := range opts {
		opt(&c.commandConfig)
	}
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("command job %q: %w", id, err)
	}
	return c, nil
}

// NewShellCommand returns a command job that runs script with /bin/sh -c.
// The script is fixed here; parameters reach it only as environment
// variables, so quote them ("$JOBBRIDGE_PARAM_NAME") and they cannot inject
// commands.
func NewShellCommand(id, description, script string, params []jobs.Param, opts ...CommandOption) (*Command, error) {
	if strings.TrimSpace(script) == "" {
		return nil, fmt.Errorf("command job %q: the script is empty", id)
	}
	return NewCommand(id, description, []string{"/bin/sh", "-c", script}, params, opts...)
}

func (c *Command) check() error {
	if err := jobs.ValidateID(c.id); err != nil {
		return err
	}
	if len(c.argv) == 0 || c.argv[0] == "" {
		return errors.New("no program to run: argv is empty")
	}
	if c.killGrace < 0 {
		return fmt.Errorf("kill grace %s is negative", c.killGrace)
	}
	for _, kv := range c.env {
		name, _, ok := strings.Cut(kv, "=")
		if !ok || name == "" || strings.ContainsRune(kv, 0) {
			return fmt.Errorf("environment entry %q is not NAME=value", kv)
		}
		if strings.HasPrefix(name, paramEnvPrefix) {
			return fmt.Errorf("environment entry %s: the %s prefix is reserved for parameters", name, paramEnvPrefix)
		}
	}
	for _, name := range c.passEnv {
		if !envNamePattern.MatchString(name) {
			return fmt.Errorf("passed-through variable %q is not a variable name (letters, digits and '_', not starting with a digit)", name)
		}
		if strings.HasPrefix(name, paramEnvPrefix) {
			return fmt.Errorf("passed-through variable %s: the %s prefix is reserved for parameters", name, paramEnvPrefix)
		}
	}
	// Names differing only in case would share one variable.
	byEnv := make(map[string]string, len(c.params))
	for _, p := range c.params {
		env := paramEnvPrefix + strings.ToUpper(p.Name)
		if other, dup := byEnv[env]; dup && other != p.Name {
			return fmt.Errorf("parameters %q and %q would both be passed as %s", other, p.Name, env)
		}
		byEnv[env] = p.Name
	}
	return nil
}

// ID implements jobs.Job.
func (c *Command) ID() string { return c.id }

// Description implements jobs.Job.
func (c *Command) Description() string { return c.description }

// Params implements jobs.Job.
func (c *Command) Params() []jobs.Param { return append([]jobs.Param(nil), c.params...) }

// Run implements jobs.Job.
func (c *Command) Run(ctx context.Context, params jobs.Params) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("command not started: %w", err)
	}
	log := &runLog{log: jobs.Logger(ctx)}

	tag, err := newProcessTag()
	if err != nil {
		return fmt.Errorf("command: %w", err)
	}
	result, err := newOutputFile()
	if err != nil {
		return fmt.Errorf("command: %w", err)
	}
	defer func() {
		if err := result.remove(); err != nil {
			log.line(slog.LevelWarn, "command: "+err.Error())
		}
	}()
	cmd := exec.Command(c.argv[0], c.argv[1:]...)
	cmd.Dir = c.dir
	cmd.Env = append(c.environ(params), tag, result.env())
	startInOwnGroup(cmd)
	// Our own pipes, not exec's: Wait then returns when the program exits,
	// and we decide how long to wait for output that grandchildren hold.
	out, err := newOutputPipes(cmd)
	if err != nil {
		return fmt.Errorf("command: %w", err)
	}
	start := time.Now()
	err = startProgram(cmd)
	out.closeWriters()
	if err != nil {
		out.closeReaders()
		return fmt.Errorf("start %s: %w", c.argv[0], err)
	}
	log.line(slog.LevelInfo, fmt.Sprintf("command: started %s (pid %d)", c.argv[0], cmd.Process.Pid))
	// Not waited for yet, so the pid is still the program's.
	if startTime, ok := processStartTime(cmd.Process.Pid); ok {
		jobs.ProcessStarted(ctx, jobs.Process{PGID: cmd.Process.Pid, StartTime: startTime, Tag: tag})
	}
	out.forward(log)

	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	waitErr, cancelled := c.supervise(ctx, cmd.Process, exited, log)
	if !out.wait(outputDrain) {
		log.line(slog.LevelWarn, fmt.Sprintf("command: a process outside the program's group still holds its output; stopped reading after %s", outputDrain))
	}

	var runErr error
	var exitErr *exec.ExitError
	switch {
	case cancelled:
		runErr = fmt.Errorf("command stopped after cancellation: %w", ctx.Err())
	case errors.As(waitErr, &exitErr):
		runErr = errors.New(describeExit(exitErr))
	case waitErr != nil:
		runErr = fmt.Errorf("wait for %s: %w", c.argv[0], waitErr)
	}
	// A program that failed may still have said why in its output: it is
	// kept then too. A bad output fails a run that otherwise succeeded; a
	// run that failed already fails for its own reason, the bad output noted.
	if err := recordOutput(ctx, result, log); err != nil && runErr == nil {
		return err
	}
	if runErr != nil {
		return runErr
	}
	log.line(slog.LevelInfo, fmt.Sprintf("command: exited with status 0 after %s", time.Since(start).Round(time.Millisecond)))
	jobs.Progress(ctx, 100, "exited with status 0")
	return nil
}

// recordOutput makes what the program wrote to its output file the run's
// output (jobs.SetOutput). What is wrong with it is logged and returned.
func recordOutput(ctx context.Context, f *outputFile, log *runLog) error {
	out, err := f.read()
	if err == nil && out != nil {
		err = jobs.SetOutput(ctx, out)
	}
	if err != nil {
		err = fmt.Errorf("command: %w", err)
		log.line(slog.LevelError, err.Error()+"; the run keeps no output")
		return err
	}
	if out != nil {
		log.line(slog.LevelInfo, fmt.Sprintf("command: recorded the run's output (%d bytes of JSON)", len(out)))
	}
	return nil
}

// supervise waits for the program to exit or ctx to be cancelled. On
// cancellation, or when the program exits leaving processes in its group, it
// stops the group: SIGTERM, then SIGKILL if any of it outlives the grace.
func (c *Command) supervise(ctx context.Context, p *os.Process, exited <-chan error, log *runLog) (waitErr error, cancelled bool) {
	leaderDone := false
	select {
	case waitErr = <-exited:
		if !groupAlive(p) {
			return waitErr, false
		}
		leaderDone = true
		log.line(slog.LevelWarn, "command: the program exited but left processes running in its process group; stopping them")
	case <-ctx.Done():
		cancelled = true
		log.line(slog.LevelWarn, fmt.Sprintf("command: cancelled; sending SIGTERM to the program's process group, SIGKILL after %s", c.killGrace))
	}
	terminateGroup(p)

	grace := time.NewTimer(c.killGrace)
	defer grace.Stop()
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	for !leaderDone || groupAlive(p) {
		select {
		case waitErr = <-exited:
			leaderDone = true
		case <-poll.C:
		case <-grace.C:
			killGroup(p)
			log.line(slog.LevelWarn, fmt.Sprintf("command: still running %s after SIGTERM; sent SIGKILL to the process group", c.killGrace))
			if !leaderDone {
				waitErr = <-exited
			}
			return waitErr, cancelled
		}
	}
	return waitErr, cancelled
}

var envNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// environ is the program's whole environment: baseEnv and the passed-through
// names from the agent's, then the configured extras, then this run's
// parameters. Later entries win; Run adds the process tag after them all.
func (c *Command) environ(params jobs.Params) []string {
	var env []string
	for _, names := range [][]string{baseEnv, c.passEnv} {
		for _, name := range names {
			if v, ok := os.LookupEnv(name); ok {
				env = append(env, name+"="+v)
			}
		}
	}
	env = append(env, c.env...)
	for _, p := range c.params {
		if v, ok := params[p.Name]; ok {
			env = append(env, paramEnvPrefix+strings.ToUpper(p.Name)+"="+v)
		}
	}
	return env
}

// runLog serialises the log lines of a run's goroutines, since
// jobs.Reporter does not promise to be safe for concurrent use.
type runLog struct {
	mu  sync.Mutex
	log *slog.Logger
}

func (l *runLog) line(level slog.Level, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.log.Log(context.Background(), level, msg)
}
