package server

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/jobbridge/jobbridge/agent/internal/runner"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

// webhook is POST /webhook/run, EventBridge's entry: it checks the key,
// records a run and answers at once; the job runs in the background.
type webhook struct {
	s       *Server
	cfg     Config
	keyHash [sha256.Size]byte
}

func newWebhook(s *Server) *webhook {
	return &webhook{s: s, cfg: s.cfg, keyHash: sha256.Sum256([]byte(s.cfg.WebhookKey))}
}

func (h *webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w}
	h.serve(rec, r)
	h.s.metrics.webhookAnswers.WithLabelValues(strconv.Itoa(rec.status)).Inc()
}

func (h *webhook) serve(w http.ResponseWriter, r *http.Request) {
	if h.cfg.WebhookKey == "" {
		requestOf(r.Context()).refuseBody()
		writeProblem(w, api.Problem{Status: http.StatusNotFound, Detail: "the webhook is off: the agent has no EventBridge API key configured"})
		return
	}
	// The key is checked before the body is read, and a delivery with the
	// right key is taken whatever others did from its address. Compare
	// hashes so the comparison takes the same time whatever the length of
	// what was sent.
	got := sha256.Sum256([]byte(r.Header.Get(h.cfg.WebhookHeader)))
	if subtle.ConstantTimeCompare(got[:], h.keyHash[:]) != 1 {
		if status, wait := h.s.refuseAuth(r.Context(), r.RemoteAddr, "webhook"); status == http.StatusTooManyRequests {
			tooManyFailures(w, wait)
			return
		}
		writeProblem(w, api.Problem{Status: http.StatusUnauthorized})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBody))
	var tooBig *http.MaxBytesError
	var netErr net.Error
	switch {
	case errors.As(err, &tooBig):
		writeProblem(w, api.Problem{Status: http.StatusRequestEntityTooLarge, Detail: fmt.Sprintf("the body is over %d bytes", MaxWebhookBody)})
		return
	case errors.As(err, &netErr) && netErr.Timeout():
		requestOf(r.Context()).refuseBody()
		writeProblem(w, api.Problem{Status: http.StatusRequestTimeout, Detail: "the body did not arrive in time"})
		return
	case err != nil:
		writeProblem(w, api.Problem{Status: http.StatusBadRequest, Detail: "reading the body: " + err.Error()})
		return
	}
	fire, problems := parseDelivery(body, h.cfg.RulePrefix)
	if len(problems) > 0 {
		writeProblem(w, api.Problem{Status: http.StatusBadRequest, Detail: "the body is not a valid delivery", Errors: problems})
		return
	}
	fire.By = "eventbridge"
	// A delivery for a disabled rule is recorded skipped and acknowledged:
	// refused, EventBridge would retry it for hours, and a late retry
	// would run once the rule is enabled again.
	fire.RecordDisabled = true
	run, created, err := h.cfg.Firer.Fire(r.Context(), fire)
	switch {
	case err == nil && created:
		writeJSON(w, http.StatusAccepted, api.WebhookResponse{RunID: run.ID})
	case err == nil:
		writeJSON(w, http.StatusOK, api.WebhookResponse{RunID: run.ID, Duplicate: true})
	case errors.Is(err, runner.ErrUnknownRule):
		writeProblem(w, api.Problem{Status: http.StatusNotFound, Detail: fmt.Sprintf("no rule named %q", fire.Rule)})
	case errors.Is(err, runner.ErrShuttingDown), errors.Is(err, store.ErrUnavailable):
		// EventBridge retries 5xx answers.
		h.cfg.Logger.Warn("webhook: cannot take the delivery now", "rule", fire.Rule, "event", fire.EventID, "err", err)
		w.Header().Set("Retry-After", "5")
		writeProblem(w, api.Problem{Status: http.StatusServiceUnavailable, Detail: "the agent cannot take runs right now; retry"})
	case r.Context().Err() != nil:
		// The caller gave up (EventBridge waits 5 s) before the run was
		// recorded: it retries, and the event id makes the retry safe.
		h.cfg.Logger.Warn("webhook: the caller gave up before the run was recorded; it will retry", "rule", fire.Rule, "event", fire.EventID, "err", err)
		writeProblem(w, api.Problem{Status: http.StatusServiceUnavailable, Detail: "the run could not be recorded in time; retry"})
	default:
		h.cfg.Logger.Error("webhook: recording the run failed", "rule", fire.Rule, "event", fire.EventID, "err", err)
		writeProblem(w, api.Problem{Status: http.StatusInternalServerError, Detail: "the run could not be recorded"})
	}
}

// delivery is either body EventBridge may send: the agent's input
// transformer's {"rule","eventId","time"}, or the raw scheduled-event
// envelope {"id","resources":[ruleARN],"time",...}.
type delivery struct {
	Rule      string   `json:"rule"`
	EventID   string   `json:"eventId"`
	Time      string   `json:"time"`
	ID        string   `json:"id"`
	Resources []string `json:"resources"`
}

// parseDelivery reads a webhook body into the fire it asks for, or lists
// everything wrong with it.
func parseDelivery(body []byte, prefix string) (runner.FireParams, []api.ErrorDetail) {
	var d delivery
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&d); err != nil {
		return runner.FireParams{}, []api.ErrorDetail{{Location: "body", Message: "not a JSON object: " + err.Error()}}
	}
	if dec.More() {
		return runner.FireParams{}, []api.ErrorDetail{{Location: "body", Message: "unexpected data after the JSON object"}}
	}
	var problems []api.ErrorDetail
	var p runner.FireParams
	switch {
	case d.Rule != "":
		p.Rule, p.EventID = d.Rule, d.EventID
		if p.EventID == "" {
			problems = append(problems, api.ErrorDetail{Location: "body.eventId", Message: "is required"})
		}
	case len(d.Resources) > 0:
		p.Rule, p.EventID = ruleFromARN(d.Resources[0]), d.ID
		if p.Rule == "" {
			problems = append(problems, api.ErrorDetail{Location: "body.resources[0]", Message: "is not an EventBridge rule ARN", Value: d.Resources[0]})
		}
		if p.EventID == "" {
			problems = append(problems, api.ErrorDetail{Location: "body.id", Message: "is required"})
		}
	default:
		problems = append(problems, api.ErrorDetail{Location: "body.rule", Message: `is required (or an EventBridge event with "resources" and "id")`})
	}
	p.Rule = strings.TrimPrefix(p.Rule, prefix)
	if d.Time != "" {
		t, err := time.Parse(time.RFC3339, d.Time)
		if err != nil {
			problems = append(problems, api.ErrorDetail{Location: "body.time", Message: "is not an RFC 3339 time", Value: d.Time})
		}
		p.At = t.UTC()
	}
	switch {
	case len(p.EventID) > 256:
		problems = append(problems, api.ErrorDetail{Location: "body.eventId", Message: "is longer than 256 characters"})
	case strings.ContainsFunc(p.EventID, unicode.IsControl):
		problems = append(problems, api.ErrorDetail{Location: "body.eventId", Message: "contains control characters"})
	}
	return p, problems
}

// ruleFromARN returns the rule name of arn:aws:events:REGION:ACCOUNT:rule/NAME
// or .../rule/BUS/NAME, "" if arn is not one.
func ruleFromARN(arn string) string {
	if !strings.HasPrefix(arn, "arn:") {
		return ""
	}
	_, res, ok := strings.Cut(arn, ":rule/")
	if !ok || res == "" {
		return ""
	}
	if i := strings.LastIndexByte(res, '/'); i >= 0 {
		res = res[i+1:]
	}
	return res
}
