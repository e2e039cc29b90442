package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

	"github.com/jobbridge/jobbridge/shared/api"
)

// Reporter receives what a running job says about itself. The agent's runner
// gives every run its own Reporter, which stores log lines with the run (up
// to a cap per run) and publishes progress.
type Reporter interface {
	// Log records one line of the run's log.
	Log(level slog.Level, message string)
	// Progress records how far the run has got: percent in 0..100.
	Progress(percent int, message string)
}

type reporterKey struct{}

// WithReporter returns a context whose jobs report to rep. The runner calls
// it; jobs call Logger and Progress.
func WithReporter(ctx context.Context, rep Reporter) context.Context {
	return context.WithValue(ctx, reporterKey{}, rep)
}

func reporter(ctx context.Context) Reporter {
	if rep, ok := ctx.Value(reporterKey{}).(Reporter); ok {
		return rep
	}
	return nil
}

// Logger returns a logger that writes to the run's log. Attributes are
// appended to the message as key=value. Outside a run it discards.
func Logger(ctx context.Context) *slog.Logger {
	rep := reporter(ctx)
	if rep == nil {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(&runHandler{rep: rep})
}

// Progress reports the run's progress, percent clamped to 0..100. Outside a
// run it does nothing.
func Progress(ctx context.Context, percent int, message string) {
	rep := reporter(ctx)
	if rep == nil {
		return
	}
	rep.Progress(min(max(percent, 0), 100), message)
}

// runHandler is a slog.Handler that turns records into run log lines.
type runHandler struct {
	rep    Reporter
	prefix string // pre-formatted attributes from WithAttrs
	group  string
}

func (h *runHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *runHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	b.WriteString(h.prefix)
	r.Attrs(func(a slog.Attr) bool {
		writeAttr(&b, h.group, a)
		return true
	})
	h.rep.Log(r.Level, b.String())
	return nil
}

func (h *runHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(h.prefix)
	for _, a := range attrs {
		writeAttr(&b, h.group, a)
	}
	return &runHandler{rep: h.rep, prefix: b.String(), group: h.group}
}

func (h *runHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	g := name
	if h.group != "" {
		g = h.group + "." + name
	}
	return &runHandler{rep: h.rep, prefix: h.prefix, group: g}
}

func writeAttr(b *strings.Builder, group string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	key := a.Key
	if group != "" {
		key = group + "." + key
	}
	if a.Value.Kind() == slog.KindGroup {
		for _, ga := range a.Value.Group() {
			writeAttr(b, key, ga)
		}
		return
	}
	v := a.Value.String()
	if strings.ContainsAny(v, " \t\n\"=") || v == "" {
		v = fmt.Sprintf("%q", v)
	}
	b.WriteString(" " + key + "=" + v)
}

// OutputReporter is a Reporter that also keeps the run's output. The
// agent's runner implements it: the output is stored with the run when it
// finishes, secret values masked.
type OutputReporter interface {
	Reporter
	// SetOutput keeps output (valid JSON of at most MaxOutputBytes) as the
	// run's output, replacing what an earlier call kept; nil clears it.
	SetOutput(output json.RawMessage) error
}

// MaxOutputBytes is the largest output a run keeps: 64 KiB of JSON.
const MaxOutputBytes = api.MaxOutputBytes

// ErrOutputTooLarge is returned, wrapped, by SetOutput for an output of
// more than MaxOutputBytes.
var ErrOutputTooLarge = fmt.Errorf("run output is larger than %d bytes of JSON", MaxOutputBytes)

// SetOutput records v, encoded as JSON, as the result of the run: stored
// with it, shown in the API and the console, and given to the rules its
// chains start (${output.NAME} takes a top-level field of an object). A
// later call replaces an earlier one; nil clears it. It refuses what does
// not encode and an encoding of more than MaxOutputBytes
// (ErrOutputTooLarge), keeping the earlier output, and says so in the
// run's log. Secret values in it are masked, as in the log. Outside a run
// it does nothing.
func SetOutput(ctx context.Context, v any) error {
	rep, _ := reporter(ctx).(OutputReporter)
	err := setOutput(rep, v)
	if err != nil && rep != nil {
		rep.Log(slog.LevelWarn, err.Error())
	}
	return err
}

func setOutput(rep OutputReporter, v any) error {
	b, err := encodeOutput(v)
	if err != nil {
		return fmt.Errorf("set the run's output: %w", err)
	}
	if len(b) > MaxOutputBytes {
		return fmt.Errorf("set the run's output: it is %d bytes: %w", len(b), ErrOutputTooLarge)
	}
	if rep == nil {
		return nil
	}
	if string(b) == "null" {
		b = nil
	}
	if err := rep.SetOutput(b); err != nil {
		return fmt.Errorf("set the run's output: %w", err)
	}
	return nil
}

// encodeOutput encodes v as compact JSON, leaving <, > and & as they are
// (encoding/json's default escapes them for HTML, which an output is not).
func encodeOutput(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
