//go:build unix

package builtin_test

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/jobs/builtin"
)

func TestCommandRecordsTheJSONItsProgramWrites(t *testing.T) {
	t.Parallel()
	job := shellJob(t, `printf '{ "rows": 3,\n  "where": "%s" }\n' "$JOBBRIDGE_PARAM_TARGET" > "$JOBBRIDGE_OUTPUT_FILE"`,
		[]jobs.Param{{Name: "target"}})
	ctx, _, rec := runContext(t)
	if err := job.Run(ctx, resolve(t, job, map[string]string{"target": "db one"})); err != nil {
		t.Fatalf("Run: %v; log:%s", err, rec.dump())
	}
	if got, want := rec.Outputs(), []string{`{"rows":3,"where":"db one"}`}; !equal(got, want) {
		t.Errorf("outputs set: %q, want %q", got, want)
	}
	if !rec.hasLine(slog.LevelInfo, "command: recorded the run's output (") {
		t.Errorf("the log does not say the output was recorded:%s", rec.dump())
	}
}

var outputPath = regexp.MustCompile(`^path=(.+)$`)

// The output file is a fresh path in a directory only the agent's user may
// enter, made for each run and gone after it.
func TestCommandOutputFileIsPrivateFreshAndRemoved(t *testing.T) {
	t.Parallel()
	if builtin.OutputFileEnv != "JOBBRIDGE_OUTPUT_FILE" {
		t.Fatalf("OutputFileEnv is %q; the contract names JOBBRIDGE_OUTPUT_FILE", builtin.OutputFileEnv)
	}
	script := `printf 'path=%s\n' "$JOBBRIDGE_OUTPUT_FILE"
ls -ld "$(dirname "$JOBBRIDGE_OUTPUT_FILE")" | cut -c1-10
test -e "$JOBBRIDGE_OUTPUT_FILE" && echo "file exists" || echo "file absent"
echo '"done"' > "$JOBBRIDGE_OUTPUT_FILE"`
	job := shellJob(t, script, nil)
	var paths []string
	for range 2 {
		ctx, _, rec := runContext(t)
		if err := job.Run(ctx, nil); err != nil {
			t.Fatalf("Run: %v; log:%s", err, rec.dump())
		}
		path := waitForLine(t, rec, outputPath)
		paths = append(paths, path)
		for _, want := range []string{"drwx------", "file absent"} {
			if !rec.hasLine(slog.LevelInfo, want) {
				t.Errorf("no %q in the log: the output file's directory must be private and the file not yet made:%s", want, rec.dump())
			}
		}
		if _, err := os.Stat(filepath.Dir(path)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the output file's directory %s is still there after the run (stat: %v)", filepath.Dir(path), err)
		}
	}
	if paths[0] == paths[1] || filepath.Dir(paths[0]) == filepath.Dir(paths[1]) {
		t.Errorf("two runs were given the same output file directory: %q", paths)
	}
}

func TestCommandWithoutOutputRecordsNone(t *testing.T) {
	t.Parallel()
	for name, script := range map[string]string{
		"no file":          `echo working`,
		"an empty file":    `: > "$JOBBRIDGE_OUTPUT_FILE"`,
		"only white space": `printf ' \n\t\n' > "$JOBBRIDGE_OUTPUT_FILE"`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, _, rec := runContext(t)
			if err := shellJob(t, script, nil).Run(ctx, nil); err != nil {
				t.Fatalf("Run: %v; log:%s", err, rec.dump())
			}
			if got := rec.Outputs(); len(got) != 0 {
				t.Errorf("outputs set: %q, want none", got)
			}
		})
	}
}

// A program that fails may say why in its output: the output is kept, the
// run fails with the program's exit.
func TestCommandThatFailsKeepsItsOutput(t *testing.T) {
	t.Parallel()
	ctx, _, rec := runContext(t)
	err := shellJob(t, `echo '{"why": "disk full"}' > "$JOBBRIDGE_OUTPUT_FILE"; exit 3`, nil).Run(ctx, nil)
	if err == nil || err.Error() != "command exited with status 3" {
		t.Errorf("Run error = %v, want the program's exit", err)
	}
	if got, want := rec.Outputs(), []string{`{"why":"disk full"}`}; !equal(got, want) {
		t.Errorf("outputs set: %q, want %q", got, want)
	}
}

func TestCommandFailsOnAnOutputItCannotKeep(t *testing.T) {
	t.Parallel()
	const content = "private-content-5e1"
	// A JSON string of n bytes, quotes included.
	jsonString := func(n int) string {
		return fmt.Sprintf(`{ printf '"'; head -c %d /dev/zero | tr '\0' a; printf '"'; } > "$JOBBRIDGE_OUTPUT_FILE"`, n-2)
	}
	tests := []struct {
		name, script string
		want         string // in the error and the log
		tooLarge     bool
	}{
		{"not JSON", `printf 'rows: 3 ` + content + `' > "$JOBBRIDGE_OUTPUT_FILE"`, "the output file is not JSON: a syntax error at byte 1 of 27", false},
		{"cut short", `printf '{"secret": "` + content + `' > "$JOBBRIDGE_OUTPUT_FILE"`, "the output file is not JSON: it ends inside a value (31 bytes)", false},
		{"two values", `printf '{"a": 1}\n{"b": "` + content + `"}' > "$JOBBRIDGE_OUTPUT_FILE"`, "the output file is not one JSON value: more follows the first, which ends at byte 8 of 37", false},
		{"over 64 KiB", jsonString(jobs.MaxOutputBytes + 1), "the output file holds more than 65536 bytes (64 KiB)", true},
		{"a link", `ln -s /etc/passwd "$JOBBRIDGE_OUTPUT_FILE"`, "the output file is not a regular file but a symbolic link", false},
		{"a named pipe", `mkfifo "$JOBBRIDGE_OUTPUT_FILE"`, "the output file is not a regular file but a named pipe", false},
		{"a directory", `mkdir "$JOBBRIDGE_OUTPUT_FILE"`, "the output file is not a regular file but a directory", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, _, rec := runContext(t)
			err := shellJob(t, tt.script, nil).Run(ctx, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run error = %v, want one saying %q", err, tt.want)
			}
			if got := errors.Is(err, jobs.ErrOutputTooLarge); got != tt.tooLarge {
				t.Errorf("errors.Is(%v, ErrOutputTooLarge) = %v, want %v", err, got, tt.tooLarge)
			}
			if !rec.hasLine(slog.LevelError, tt.want) {
				t.Errorf("no ERROR line saying %q in the log:%s", tt.want, rec.dump())
			}
			if strings.Contains(err.Error()+rec.dump(), content) || strings.Contains(rec.dump(), "root:") {
				t.Errorf("the error or the log quotes the output file: %v%s", err, rec.dump())
			}
			if got := rec.Outputs(); len(got) != 0 {
				t.Errorf("outputs set: %.80q, want none", got)
			}
		})
	}
	t.Run("exactly 64 KiB", func(t *testing.T) {
		t.Parallel()
		ctx, _, rec := runContext(t)
		if err := shellJob(t, jsonString(jobs.MaxOutputBytes), nil).Run(ctx, nil); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if got := rec.Outputs(); len(got) != 1 || len(got[0]) != jobs.MaxOutputBytes {
			t.Errorf("want one output of %d bytes, got %d outputs", jobs.MaxOutputBytes, len(got))
		}
	})
}

// A program that failed fails for its own reason; its bad output is noted.
func TestCommandThatFailsWithABadOutputReportsItsExit(t *testing.T) {
	t.Parallel()
	ctx, _, rec := runContext(t)
	err := shellJob(t, `echo 'oops' > "$JOBBRIDGE_OUTPUT_FILE"; exit 4`, nil).Run(ctx, nil)
	if err == nil || err.Error() != "command exited with status 4" {
		t.Errorf("Run error = %v, want the program's exit", err)
	}
	if !rec.hasLine(slog.LevelError, "the output file is not JSON") {
		t.Errorf("the log does not note the bad output:%s", rec.dump())
	}
	if got := rec.Outputs(); len(got) != 0 {
		t.Errorf("outputs set: %q, want none", got)
	}
}

func equal(a, b []string) bool {
	return strings.Join(a, "\x00") == strings.Join(b, "\x00") && len(a) == len(b)
}
