package burst

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/jobbridge/jobbridge/shared/api"
)

// How the harness delivers, as EventBridge's API destinations do.
const (
	// maxInFlight caps the deliveries awaiting an answer: the sender does
	// not wait for answers (open loop) up to this many.
	maxInFlight = 1000
	// deliveryTimeout is EventBridge's limit on an API destination's
	// answer: an attempt not answered by then has failed and is retried.
	deliveryTimeout = answerTarget
	// The retries' backoff: exponential with jitter, from retryFirst up to
	// retryMax (EventBridge's own goes on for up to 24 hours).
	retryFirst = time.Second
	retryMax   = 30 * time.Second
	// dailyAtMidnight is the rules' schedule in eventbridge mode, which the
	// agent does not fire itself (its scheduler is off).
	dailyAtMidnight = "cron(0 0 * * ? *)"
)

// delivery is one event EventBridge hands the API destination.
type delivery struct {
	rule      string
	eventID   string
	duplicate bool // a repeat of an earlier delivery's event
}

// deliveryPlan is the order of the deliveries: one per rule, and for a
// share of the rules a second one with the same event id, sent up to a
// second's worth of deliveries after the first (at-least-once delivery).
func deliveryPlan(names []string, share float64, rate int, rnd *rand.Rand) []delivery {
	type keyed struct {
		key float64
		d   delivery
	}
	ids := make([]string, len(names))
	plan := make([]keyed, 0, len(names))
	for i, n := range names {
		ids[i] = uuid.NewString()
		plan = append(plan, keyed{float64(i), delivery{rule: n, eventID: ids[i]}})
	}
	dups := int(math.Round(share * float64(len(names))))
	for _, i := range rnd.Perm(len(names))[:dups] {
		later := float64(i+1+rnd.IntN(rate)) + 0.5 // between two originals
		plan = append(plan, keyed{later, delivery{rule: names[i], eventID: ids[i], duplicate: true}})
	}
	slices.SortFunc(plan, func(a, b keyed) int { return cmpFloat(a.key, b.key) })
	out := make([]delivery, len(plan))
	for i, k := range plan {
		out[i] = k.d
	}
	return out
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// outcome is what became of one delivery.
type outcome struct {
	ok        bool // answered 2xx
	runID     string
	duplicate bool // the answer said so
}

// deliverer sends deliveries to the webhook and keeps the figures.
type deliverer struct {
	url, header, key string
	at               string // the events' time
	http             *http.Client
	retryUntil       time.Time
	firstBackoff     time.Duration // retryFirst, shorter in tests

	mu          sync.Mutex
	latencies   []time.Duration
	answers     map[string]int
	attempts    int
	retries     int
	inFlight    int
	maxInFlight int
}

func newDeliverer(baseURL, key string, at time.Time, retryUntil time.Time) *deliverer {
	return &deliverer{
		url: baseURL + "/webhook/run", header: api.DefaultWebhookKeyHeader, key: key,
		at:           at.UTC().Format(time.RFC3339),
		http:         &http.Client{Transport: newTransport(maxInFlight), Timeout: deliveryTimeout},
		retryUntil:   retryUntil,
		firstBackoff: retryFirst,
		answers:      map[string]int{},
	}
}

// run sends plan at rate deliveries per second without waiting for the
// answers (at most maxInFlight at once), retrying those that fail, and
// returns every delivery's outcome once all are answered or given up.
func (d *deliverer) run(ctx context.Context, plan []delivery, rate int) ([]outcome, DeliveryFigures) {
	outcomes := make([]outcome, len(plan))
	slots := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	timer := time.NewTimer(0)
	defer timer.Stop()
	first := time.Now()
	last := first
send:
	for i, dl := range plan {
		due := first.Add(time.Duration(i) * time.Second / time.Duration(rate))
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				break send
			case <-timer.C:
			}
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			break send
		}
		last = time.Now()
		wg.Go(func() { outcomes[i] = d.deliver(ctx, dl, slots) })
	}
	wg.Wait()
	return outcomes, d.figures(plan, outcomes, rate, first, last)
}

// deliver makes one delivery, holding a slot (taken by the sender for the
// first attempt) while an attempt awaits its answer, and retries as
// EventBridge does: after a timeout, an error, 401, 407, 409, 429 or 5xx,
// with backoff, until retryUntil.
func (d *deliverer) deliver(ctx context.Context, dl delivery, slots chan struct{}) outcome {
	backoff := d.firstBackoff
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return outcome{}
			}
		}
		out, code := d.attempt(ctx, dl, attempt > 0)
		<-slots
		if out.ok || !retryable(code) {
			return out
		}
		wait := backoff/2 + rand.N(backoff/2+1) // jitter
		if ctx.Err() != nil || time.Now().Add(wait).After(d.retryUntil) {
			return out
		}
		if sleepUntil(ctx, time.Now().Add(wait)) != nil {
			return out
		}
		backoff = min(2*backoff, retryMax)
	}
}

// attempt sends one request and records its answer: the HTTP status, or
// "timeout" or "error".
func (d *deliverer) attempt(ctx context.Context, dl delivery, retry bool) (outcome, string) {
	body, _ := json.Marshal(map[string]string{"rule": dl.rule, "eventId": dl.eventID, "time": d.at})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(body))
	if err != nil {
		return outcome{}, "error"
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(d.header, d.key)

	d.mu.Lock()
	d.attempts++
	if retry {
		d.retries++
	}
	d.inFlight++
	d.maxInFlight = max(d.maxInFlight, d.inFlight)
	d.mu.Unlock()

	sent := time.Now()
	var out outcome
	code := "error"
	resp, err := d.http.Do(req)
	if err == nil {
		var b []byte
		b, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		code = strconv.Itoa(resp.StatusCode)
		if err == nil && resp.StatusCode/100 == 2 {
			var answer api.WebhookResponse
			if jerr := json.Unmarshal(b, &answer); jerr == nil {
				out = outcome{ok: true, runID: answer.RunID, duplicate: answer.Duplicate}
			}
		}
	}
	latency := time.Since(sent)
	var netErr net.Error
	if err != nil && (errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout())) {
		code = "timeout"
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	d.inFlight--
	d.answers[code]++
	if err == nil {
		d.latencies = append(d.latencies, latency)
	}
	return out, code
}

// retryable says whether EventBridge retries an attempt that got code.
func retryable(code string) bool {
	switch code {
	case "timeout", "error", "401", "407", "409", "429":
		return true
	}
	n, err := strconv.Atoi(code)
	return err == nil && n >= 500
}

// figures sums up the deliveries.
func (d *deliverer) figures(plan []delivery, outcomes []outcome, rate int, first, last time.Time) DeliveryFigures {
	d.mu.Lock()
	defer d.mu.Unlock()
	f := DeliveryFigures{
		Rate: rate, Deliveries: len(plan), Attempts: d.attempts, Retries: d.retries,
		Answers: d.answers, SendSeconds: seconds(last.Sub(first)), MaxInFlight: d.maxInFlight,
		FirstAt: first.UTC(), SameRun: true,
	}
	runOf := make(map[string]string, len(plan))
	answeredNew := make(map[string]int, len(plan))
	for i, dl := range plan {
		if dl.duplicate {
			f.Duplicates++
		}
		o := outcomes[i]
		if !o.ok {
			f.Undelivered++
			continue
		}
		if o.duplicate {
			f.AnsweredAsDuplicate++
		} else if answeredNew[dl.eventID]++; answeredNew[dl.eventID] == 2 {
			f.AnsweredNewTwice++
		}
		if prev, seen := runOf[dl.eventID]; seen && prev != o.runID {
			f.SameRun = false
		}
		runOf[dl.eventID] = o.runID
	}
	if len(d.latencies) > 0 {
		lat := slices.Clone(d.latencies)
		slices.Sort(lat)
		f.P50Ms, f.P99Ms, f.MaxMs = ms(percentile(lat, 50)), ms(percentile(lat, 99)), ms(lat[len(lat)-1])
	}
	return f
}

// eventBridge measures eventbridge mode: the harness delivers every rule's
// event to the webhook as EventBridge would.
func (b *bench) eventBridge(ctx context.Context) error {
	names := ruleNames(b.cfg.Rules)
	b.progress("creating %d rules", len(names))
	start := time.Now()
	if err := createRules(ctx, b.api, names, dailyAtMidnight, b.cfg.Job, b.cfg.JobParams, true); err != nil {
		return err
	}
	b.rep.CreateSeconds = seconds(time.Since(start))
	plan := deliveryPlan(names, b.cfg.Duplicates, b.cfg.Rate, rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())))
	b.progress("rules created in %.1f s; delivering %d events (%d rules, %d duplicates) at %d/s",
		b.rep.CreateSeconds, len(plan), len(names), len(plan)-len(names), b.cfg.Rate)
	now := time.Now()
	d := newDeliverer(b.agent.url, b.agent.webhookKey, now.Truncate(time.Minute), now.Add(b.cfg.Timeout))
	_, figures := d.run(ctx, plan, b.cfg.Rate)
	if err := ctx.Err(); err != nil {
		return err
	}
	b.rep.EventBridge = &figures
	b.progress("delivered in %.1f s (%d undelivered); waiting for the runs to finish", figures.SendSeconds, figures.Undelivered)
	if _, err := b.collect(ctx, names, figures.FirstAt, time.Now()); err != nil {
		return fmt.Errorf("after the deliveries: %w", err)
	}
	return nil
}
