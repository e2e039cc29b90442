package jobs_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/jobbridge/jobbridge/jobs"
)

type fakeJob struct {
	id     string
	params []jobs.Param
}

func (j fakeJob) ID() string                             { return j.id }
func (j fakeJob) Description() string                    { return "test job" }
func (j fakeJob) Params() []jobs.Param                   { return j.params }
func (j fakeJob) Run(context.Context, jobs.Params) error { return nil }

func TestRegistryRefusesBadRegistrations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		jobs []jobs.Job
		want string
	}{
		{"empty id", []jobs.Job{fakeJob{id: ""}}, `job id "" is invalid`},
		{"space in id", []jobs.Job{fakeJob{id: "update orders"}}, `job id "update orders" is invalid`},
		{"id too long", []jobs.Job{fakeJob{id: strings.Repeat("a", 65)}}, "is invalid"},
		{"duplicate", []jobs.Job{fakeJob{id: "a"}, fakeJob{id: "a"}}, `register job "a": a job with this id is already registered`},
		{"enum without choices", []jobs.Job{fakeJob{id: "a", params: []jobs.Param{{Name: "mode", Type: jobs.TypeEnum}}}}, `parameter "mode": an enum needs choices`},
		{"unknown type", []jobs.Job{fakeJob{id: "a", params: []jobs.Param{{Name: "x", Type: "float"}}}}, `unknown type "float"`},
		{"bad default", []jobs.Job{fakeJob{id: "a", params: []jobs.Param{{Name: "n", Type: jobs.TypeInt, Default: "ten"}}}}, `parameter "n": default: "ten" is not an integer`},
		{"bad secret default", []jobs.Job{fakeJob{id: "a", params: []jobs.Param{{Name: "n", Type: jobs.TypeInt, Secret: true, Default: "hunter2"}}}},
			`parameter "n": default: is not a valid int (the value is secret, so it is not shown)`},
		{"bad secret enum default", []jobs.Job{fakeJob{id: "a", params: []jobs.Param{{Name: "n", Type: jobs.TypeEnum, Choices: []string{"a"}, Secret: true, Default: "hunter2"}}}},
			`parameter "n": default: is not a valid enum (the value is secret, so it is not shown)`},
		{"bad param name", []jobs.Job{fakeJob{id: "a", params: []jobs.Param{{Name: "my-param"}}}}, `parameter name "my-param" is invalid`},
		{"param twice", []jobs.Job{fakeJob{id: "a", params: []jobs.Param{{Name: "x"}, {Name: "x"}}}}, `parameter "x" is declared twice`},
		{"nil", []jobs.Job{nil}, "nil job"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := jobs.NewRegistry().Register(tt.jobs...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Register: got error %v, want one containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("Register: the error quotes a secret default: %v", err)
			}
		})
	}
}

func TestRegistryListsByID(t *testing.T) {
	t.Parallel()
	r := jobs.NewRegistry()
	if err := r.Register(fakeJob{id: "zeta"}, fakeJob{id: "Alpha.1"}, fakeJob{id: "mid_2"}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, j := range r.List() {
		ids = append(ids, j.ID())
	}
	if got := strings.Join(ids, ","); got != "Alpha.1,mid_2,zeta" {
		t.Errorf("List order = %s", got)
	}
	if _, ok := r.Get("mid_2"); !ok {
		t.Error("Get(mid_2) not found")
	}
	if _, ok := r.Get("nope"); ok {
		t.Error("Get(nope) found")
	}
}

var resolveJob = fakeJob{id: "orders", params: []jobs.Param{
	{Name: "increment", Type: jobs.TypeInt, Required: true},
	{Name: "dry_run", Type: jobs.TypeBool, Default: "false"},
	{Name: "wait", Type: jobs.TypeDuration, Default: "5s"},
	{Name: "mode", Type: jobs.TypeEnum, Choices: []string{"fast", "safe"}},
	{Name: "password", Secret: true},
}}

func TestResolveAppliesDefaultsAndChecksTypes(t *testing.T) {
	t.Parallel()
	got, err := jobs.Resolve(resolveJob, map[string]string{"increment": "3", "mode": "safe"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"increment": "3", "dry_run": "false", "wait": "5s", "mode": "safe"}
	if len(got) != len(want) {
		t.Fatalf("Resolve = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("param %s = %q, want %q", k, got[k], v)
		}
	}
	if n, err := got.Int("increment"); err != nil || n != 3 {
		t.Errorf("Int(increment) = %d, %v", n, err)
	}
	if d, err := got.Duration("wait"); err != nil || d.Seconds() != 5 {
		t.Errorf("Duration(wait) = %v, %v", d, err)
	}
}

func TestResolveListsEveryProblem(t *testing.T) {
	t.Parallel()
	_, err := jobs.Resolve(resolveJob, map[string]string{
		"dry_run": "maybe", "wait": "soon", "mode": "turbo", "colour": "red",
	})
	var verr *jobs.ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("Resolve error = %v, want *ValidationError", err)
	}
	want := []string{
		"increment: is required",
		`dry_run: "maybe" is not a boolean (want true or false)`,
		`wait: "soon" is not a duration (want e.g. 90s, 5m, 1h30m)`,
		`mode: "turbo" is not one of fast, safe`,
		`colour: unknown parameter (job "orders" takes increment, dry_run, wait, mode, password)`,
	}
	if len(verr.Fields) != len(want) {
		t.Fatalf("got %d field errors %v, want %d", len(verr.Fields), verr.Fields, len(want))
	}
	for i, w := range want {
		if got := verr.Fields[i].Error(); got != w {
			t.Errorf("field error %d = %q, want %q", i, got, w)
		}
	}
}

func TestMaskHidesSecrets(t *testing.T) {
	t.Parallel()
	in := map[string]string{"increment": "1", "password": "hunter2"}
	out := jobs.Mask(resolveJob, in)
	if out["password"] != "********" || out["increment"] != "1" {
		t.Errorf("Mask = %v", out)
	}
	if in["password"] != "hunter2" {
		t.Error("Mask changed its input")
	}
}

type recorder struct {
	mu       sync.Mutex
	lines    []string
	progress []int
}

func (r *recorder) Log(level slog.Level, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, level.String()+" "+msg)
}

func (r *recorder) Progress(p int, _ string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.progress = append(r.progress, p)
}

func TestLoggerAndProgressReachTheRun(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	ctx := jobs.WithReporter(context.Background(), rec)
	log := jobs.Logger(ctx).With("step", 2)
	log.Info("copied", "rows", 10, "table", "demo orders")
	log.WithGroup("db").Warn("slow", "ms", 250)
	jobs.Progress(ctx, 150, "almost")
	jobs.Progress(ctx, -1, "before")

	want := []string{`INFO copied step=2 rows=10 table="demo orders"`, `WARN slow step=2 db.ms=250`}
	if strings.Join(rec.lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("log lines = %q, want %q", rec.lines, want)
	}
	if len(rec.progress) != 2 || rec.progress[0] != 100 || rec.progress[1] != 0 {
		t.Errorf("progress = %v, want clamped [100 0]", rec.progress)
	}
	// Outside a run nothing panics.
	jobs.Logger(context.Background()).Info("nobody listens")
	jobs.Progress(context.Background(), 50, "")
}
