package eventbridge

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedtypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
)

// These tests run the scheduler mode against kumo's EventBridge Scheduler
// and EventBridge. kumo v0.33.1 has schedules and schedule groups, with
// these gaps (the recorder tests cover what they hide):
//   - no Scheduler ListTagsForResource or TagResource (404 / 400), and
//     CreateScheduleGroup drops the tags: kumoTagShim answers the two calls
//     from the tags CreateScheduleGroup sent;
//   - StartDate and EndDate are read as strings, not the epoch seconds the
//     SDK sends, so a schedule with either is refused ("Invalid request
//     body"): these tests use none;
//   - ListSchedules ignores the group (it reads GroupName, the SDK sends
//     ScheduleGroup) and does not page; the backend filters by group;
//   - no schedule ever fires: the relay test puts the event a schedule
//     would put;
//   - the input transformer quotes a string placeholder even inside a
//     quoted string (EventBridge inserts it bare), so kumo renders the
//     relay's eventId as invalid JSON: the relay test checks the routing
//     and the rule and time, the agent test the exact body.

// kumoTagShim answers the Scheduler tag calls kumo lacks from memory,
// keeping the tags CreateScheduleGroup sends, and passes the rest on.
type kumoTagShim struct {
	next http.RoundTripper
	mu   sync.Mutex
	tags map[string][]any // group ARN → tags as the API writes them
}

func (s *kumoTagShim) RoundTrip(req *http.Request) (*http.Response, error) {
	path := req.URL.EscapedPath()
	if req.Header.Get("X-Amz-Target") != "" {
		return s.next.RoundTrip(req)
	}
	if rest, ok := strings.CutPrefix(path, "/tags/"); ok {
		arn, _ := url.PathUnescape(rest)
		s.mu.Lock()
		defer s.mu.Unlock()
		body := map[string]any{}
		if req.Method == http.MethodPost {
			in := struct{ Tags []any }{}
			json.NewDecoder(req.Body).Decode(&in)
			s.tags[arn] = append(s.tags[arn], in.Tags...)
		} else {
			body["Tags"] = s.tags[arn]
		}
		b, _ := json.Marshal(body)
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(bytes.NewReader(b)), Request: req}, nil
	}
	if req.Method != http.MethodPost || !strings.HasPrefix(path, "/schedule-groups/") {
		return s.next.RoundTrip(req)
	}
	raw, _ := io.ReadAll(req.Body)
	req.Body = io.NopCloser(bytes.NewReader(raw))
	resp, err := s.next.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(out))
	var in struct{ Tags []any }
	var created struct{ ScheduleGroupArn string }
	json.Unmarshal(raw, &in)
	json.Unmarshal(out, &created)
	s.mu.Lock()
	s.tags[created.ScheduleGroupArn] = in.Tags
	s.mu.Unlock()
	return resp, nil
}

type kumoSchedEnv struct {
	*kumoEnv
	sched *scheduler.Client // for looking at kumo's schedules directly
	group string
	shim  *kumoTagShim
}

func newKumoSchedEnv(t *testing.T) *kumoSchedEnv {
	t.Helper()
	k := &kumoSchedEnv{kumoEnv: newKumoEnv(t)}
	k.settings.SchedulerRoleARN = "arn:aws:iam::000000000000:role/jobbridge-scheduler"
	k.sched = scheduler.NewFromConfig(k.awsConfig(http.DefaultClient))
	k.group = k.settings.ScheduleGroup()
	k.shim = &kumoTagShim{next: k.rec, tags: map[string][]any{}}
	return k
}

func (k *kumoSchedEnv) backend(t *testing.T, mut ...func(*Config)) *Backend {
	t.Helper()
	return k.kumoEnv.backend(t, append([]func(*Config){func(c *Config) {
		c.Mode = ModeScheduler
		c.AWS.HTTPClient = &http.Client{Transport: k.shim}
	}}, mut...)...)
}

func (k *kumoSchedEnv) get(t *testing.T, name string) *scheduler.GetScheduleOutput {
	t.Helper()
	out, err := k.sched.GetSchedule(context.Background(), &scheduler.GetScheduleInput{Name: aws.String(name), GroupName: aws.String(k.group)})
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatalf("get schedule %s in kumo: %v", name, err)
	}
	return out
}

func TestKumoSchedulerSyncsCreateChangeDisableDelete(t *testing.T) {
	t.Parallel()
	k := newKumoSchedEnv(t)
	b := k.backend(t)
	runBackend(t, b)
	ctx := context.Background()

	r := rule("report", "cron(0 2 * * ? *)", true)
	r.Timezone = "Europe/Paris"
	r.FlexibleWindow = 15 * time.Minute
	k.st.put(r)
	b.RuleChanged(ctx, r)
	waitFor(t, "report synced", func() bool { return k.st.sync("report").State == StateSynced })

	got := k.get(t, "report")
	bus, err := k.client.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{Name: aws.String("default")})
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case got == nil:
		t.Fatal("no schedule in kumo")
	case aws.ToString(got.ScheduleExpression) != "cron(0 2 * * ? *)" || aws.ToString(got.ScheduleExpressionTimezone) != "Europe/Paris":
		t.Errorf("schedule %s in %s", aws.ToString(got.ScheduleExpression), aws.ToString(got.ScheduleExpressionTimezone))
	case got.State != schedtypes.ScheduleStateEnabled || got.ActionAfterCompletion != schedtypes.ActionAfterCompletionNone:
		t.Errorf("state %s, after completion %s", got.State, got.ActionAfterCompletion)
	case got.FlexibleTimeWindow == nil || got.FlexibleTimeWindow.Mode != schedtypes.FlexibleTimeWindowModeFlexible || aws.ToInt32(got.FlexibleTimeWindow.MaximumWindowInMinutes) != 15:
		t.Errorf("window %+v", got.FlexibleTimeWindow)
	case got.Target == nil || aws.ToString(got.Target.Arn) != aws.ToString(bus.Arn) || aws.ToString(got.Target.RoleArn) != k.settings.SchedulerRoleARN:
		t.Errorf("target %+v, want the bus %s", got.Target, aws.ToString(bus.Arn))
	case !strings.Contains(aws.ToString(got.Target.Input), `"scheduledTime":"<aws.scheduler.scheduled-time>"`):
		t.Errorf("target input %s", aws.ToString(got.Target.Input))
	}
	if s := k.st.sync("report"); s.ARN != aws.ToString(got.Arn) {
		t.Errorf("sync ARN %q, kumo's schedule ARN %q", s.ARN, aws.ToString(got.Arn))
	}

	// Changed and disabled: updated in place.
	changed := r
	changed.Schedule, changed.Enabled = "rate(30 minutes)", false
	k.st.put(changed)
	b.RuleChanged(ctx, changed)
	waitFor(t, "the change to reach kumo", func() bool {
		got := k.get(t, "report")
		return got != nil && got.State == schedtypes.ScheduleStateDisabled && aws.ToString(got.ScheduleExpression) == "rate(30 minutes)"
	})

	// A one-time rule: AWS deletes its schedule once it has run.
	once := rule("once", "at(2099-01-01T00:00:00)", true)
	k.st.put(once)
	b.RuleChanged(ctx, once)
	waitFor(t, "once synced", func() bool { return k.st.sync("once").State == StateSynced })
	if got := k.get(t, "once"); got == nil || got.ActionAfterCompletion != schedtypes.ActionAfterCompletionDelete {
		t.Errorf("one-time schedule %+v, want ActionAfterCompletion DELETE", got)
	}

	k.st.del("report")
	b.RuleDeleted(ctx, changed)
	waitFor(t, "the delete to reach kumo", func() bool { return k.get(t, "report") == nil })
}

func TestKumoSchedulerReconcileCorrectsAndFindsOrphans(t *testing.T) {
	t.Parallel()
	k := newKumoSchedEnv(t)
	b := k.backend(t)
	ctx := context.Background()
	k.st.put(rule("gone", "rate(1 hour)", true))
	k.st.put(rule("drifted", "cron(0 6 * * ? *)", true))
	k.st.put(rule("steady", "rate(2 hours)", true))
	if _, err := b.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	// Drift made behind the agent's back, a schedule in the group no stored
	// rule has, and one in another group.
	if _, err := k.sched.DeleteSchedule(ctx, &scheduler.DeleteScheduleInput{Name: aws.String("gone"), GroupName: aws.String(k.group)}); err != nil {
		t.Fatal(err)
	}
	drifted := k.get(t, "drifted")
	if _, err := k.sched.UpdateSchedule(ctx, &scheduler.UpdateScheduleInput{
		Name: aws.String("drifted"), GroupName: aws.String(k.group), ScheduleExpression: aws.String("cron(0 9 * * ? *)"),
		FlexibleTimeWindow: drifted.FlexibleTimeWindow, Target: drifted.Target, State: schedtypes.ScheduleStateDisabled,
	}); err != nil {
		t.Fatal(err)
	}
	other := k.group + "-other"
	if _, err := k.sched.CreateScheduleGroup(ctx, &scheduler.CreateScheduleGroupInput{Name: aws.String(other)}); err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{k.group, other} {
		if _, err := k.sched.CreateSchedule(ctx, &scheduler.CreateScheduleInput{
			Name: aws.String("orphan"), GroupName: aws.String(g), ScheduleExpression: aws.String("rate(1 day)"),
			FlexibleTimeWindow: drifted.FlexibleTimeWindow, Target: drifted.Target,
		}); err != nil {
			t.Fatal(err)
		}
	}

	rep, err := b.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Synced, []string{"drifted", "gone"}) || rep.InStep != 1 {
		t.Errorf("report %+v, want drifted and gone synced and steady in step", rep)
	}
	if want := []string{k.group + "/orphan"}; !slices.Equal(rep.Orphans, want) {
		t.Errorf("orphans %v, want %v", rep.Orphans, want)
	}
	if got := k.get(t, "gone"); got == nil {
		t.Error("the schedule deleted in kumo was not made again")
	}
	if got := k.get(t, "drifted"); got == nil || aws.ToString(got.ScheduleExpression) != "cron(0 6 * * ? *)" || got.State != schedtypes.ScheduleStateEnabled {
		t.Errorf("the drifted schedule was not corrected: %+v", got)
	}

	deleted, err := b.Prune(ctx)
	if err != nil || !slices.Equal(deleted, []string{k.group + "/orphan"}) {
		t.Errorf("prune deleted %v (%v), want the orphan", deleted, err)
	}
	if k.get(t, "orphan") != nil {
		t.Error("the orphan is still there")
	}
	if _, err := k.sched.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String("orphan"), GroupName: aws.String(other)}); err != nil {
		t.Errorf("the schedule in another group was touched: %v", err)
	}
	k.sched.DeleteSchedule(ctx, &scheduler.DeleteScheduleInput{Name: aws.String("orphan"), GroupName: aws.String(other)})
}

// TestKumoSchedulerRelayDelivers puts on kumo's bus the event a schedule
// would put when it fires, and lets kumo's relay rule deliver it through
// the API destination to a stand-in webhook; an event of another agent's
// group is not delivered.
func TestKumoSchedulerRelayDelivers(t *testing.T) {
	t.Parallel()
	bodies := make(chan string, 20)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.URL.Path == WebhookPath {
			bodies <- string(b)
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(hook.Close)
	k := newKumoSchedEnv(t)
	b := k.backend(t, func(c *Config) { c.TargetURL = hook.URL })
	ctx := context.Background()
	k.st.put(rule("delivered", "rate(1 hour)", true))
	if _, err := b.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	relay, err := k.client.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String(k.settings.RelayRuleName())})
	if err != nil || !samePattern(aws.ToString(relay.EventPattern), k.settings.relayPattern()) {
		t.Fatalf("relay rule in kumo: %+v, %v", relay, err)
	}

	put := func(input string) {
		t.Helper()
		out, err := k.client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{{
			Source: aws.String(EventSource), DetailType: aws.String(EventDetailType),
			Detail: aws.String(strings.ReplaceAll(input, ScheduledTimeAttribute, "2026-11-27T02:00:00Z")),
		}}})
		if err != nil || out.FailedEntryCount != 0 {
			t.Fatalf("PutEvents: %v %+v", err, out)
		}
	}
	// Another agent's group first: its event must not reach this webhook.
	foreign := &Backend{cfg: Config{Settings: Settings{RulePrefix: "jbk-someone-else-"}}}
	put(foreign.scheduleInput("theirs"))
	put(aws.ToString(k.get(t, "delivered").Target.Input))

	want := k.settings.RulePrefix + "delivered"
	deadline := time.After(10 * time.Second)
	for {
		select {
		case body := <-bodies:
			if strings.Contains(body, "jbk-someone-else-theirs") {
				t.Fatalf("the relay delivered another group's event: %s", body)
			}
			if !strings.HasPrefix(body, `{"rule":"`+want+`",`) {
				continue // another test's rule on the shared bus
			}
			if !strings.HasSuffix(body, `"time":"2026-11-27T02:00:00Z"}`) || !strings.Contains(body, `"eventId":"scheduler:`) {
				t.Errorf("delivery %s: want the rule, the scheduled time and an event id from them", body)
			}
			return
		case <-deadline:
			t.Fatal("kumo delivered nothing for the rule")
		}
	}
}
