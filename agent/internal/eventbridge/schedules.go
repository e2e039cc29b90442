package eventbridge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedtypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"

	"github.com/jobbridge/jobbridge/agent/internal/store"
)

// ScheduledTimeAttribute is the context attribute EventBridge Scheduler
// replaces, in a schedule's input, with the time the fire was scheduled for
// (2026-11-27T02:00:00Z): the same for every retry of that fire.
const ScheduledTimeAttribute = "<aws.scheduler.scheduled-time>"

// wantSchedule is the schedule a stored rule asks for now: what
// CreateSchedule and UpdateSchedule send (UpdateSchedule replaces every
// field, so both send all of it).
type wantSchedule struct {
	name        string
	expression  string
	timezone    string
	description string
	start, end  *time.Time
	window      schedtypes.FlexibleTimeWindow
	state       schedtypes.ScheduleState
	after       schedtypes.ActionAfterCompletion
	target      schedtypes.Target
}

// zoneOf is the rule's time zone; a rule stored before zones existed has
// none and runs in UTC.
func zoneOf(r store.Rule) string {
	if r.Timezone == "" {
		return "UTC"
	}
	return r.Timezone
}

func isAt(schedule string) bool { return strings.HasPrefix(schedule, "at(") }

// atTime is the instant an at() rule fires at: its wall time in its zone,
// the first of the two when the clocks repeat it (as Scheduler fires it;
// time.ParseInLocation may give the second).
func atTime(r store.Rule) (time.Time, bool) {
	s, err := r.FireSchedule(time.Time{})
	if err != nil || !s.IsAt() {
		return time.Time{}, false
	}
	return s.Next(time.Time{})
}

// ratePeriod is the period of a rate() schedule; a day is 24 hours, as
// Scheduler counts it whatever the zone does.
func ratePeriod(schedule string) (time.Duration, bool) {
	inner, ok := strings.CutPrefix(schedule, "rate(")
	inner, closed := strings.CutSuffix(inner, ")")
	f := strings.Fields(inner)
	if !ok || !closed || len(f) != 2 {
		return 0, false
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n < 1 {
		return 0, false
	}
	unit := map[string]time.Duration{
		"minute": time.Minute, "minutes": time.Minute,
		"hour": time.Hour, "hours": time.Hour,
		"day": 24 * time.Hour, "days": 24 * time.Hour,
	}[f[1]]
	if unit == 0 {
		return 0, false
	}
	return time.Duration(n) * unit, true
}

// startFor is the StartDate to send for r at now. AWS refuses a start more
// than 5 minutes in the past, so once the rule's start has passed the agent
// sends none for cron() and at() (it holds nothing back any more) and, for
// rate(), the first fire time at or after now on the grid the start set,
// which keeps the fires where the start put them.
func startFor(r store.Rule, now time.Time) *time.Time {
	s := r.StartDate.UTC()
	switch {
	case r.StartDate.IsZero():
		return nil
	case s.After(now):
		return &s
	}
	p, ok := ratePeriod(r.Schedule)
	if !ok {
		return nil
	}
	next := nextOnGrid(s, now, p)
	return &next
}

// nextOnGrid returns the first s + k×p (k ≥ 0) at or after now (s not
// after now), counted in seconds: s may be further back than a
// time.Duration reaches (about 292 years), and p is whole minutes.
func nextOnGrid(s, now time.Time, p time.Duration) time.Time {
	ps := int64(p / time.Second)
	k := (now.Unix() - s.Unix() + ps - 1) / ps
	next := time.Unix(s.Unix()+k*ps, int64(s.Nanosecond())).UTC()
	if next.Before(now) {
		next = time.Unix(next.Unix()+ps, int64(s.Nanosecond())).UTC()
	}
	return next
}

// finished reports whether r can fire no more at now: an at() whose time
// has come, or a recurring rule whose end date has passed (or comes before
// its next fire). Its schedule is never created or changed again, only
// deleted with the rule: AWS deletes an at() schedule once it has run, and
// making it again would run it again.
func finished(r store.Rule, now time.Time) bool {
	if isAt(r.Schedule) {
		t, ok := atTime(r)
		return ok && !now.Before(t)
	}
	if r.EndDate.IsZero() {
		return false
	}
	if !now.Before(r.EndDate) {
		return true
	}
	s := startFor(r, now)
	return s != nil && !s.Before(r.EndDate)
}

// scheduleInput is the detail of the event a rule's schedule puts on the
// bus: the rule (as the webhook takes it, prefixed), the agent's group (the
// relay rule's pattern matches it) and the fire's scheduled time.
func (b *Backend) scheduleInput(name string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep the attribute's < and > as they are
	enc.Encode(struct {
		Rule          string `json:"rule"`
		Group         string `json:"group"`
		ScheduledTime string `json:"scheduledTime"`
	}{b.AWSName(name), b.cfg.ScheduleGroup(), ScheduledTimeAttribute})
	return strings.TrimSuffix(buf.String(), "\n")
}

// scheduleFor is the schedule r asks for at now; busARN is the bus its
// target puts events on.
func (b *Backend) scheduleFor(r store.Rule, busARN string, now time.Time) wantSchedule {
	w := wantSchedule{
		name:        r.Name,
		expression:  r.Schedule,
		timezone:    zoneOf(r),
		description: description(r),
		start:       startFor(r, now),
		window:      schedtypes.FlexibleTimeWindow{Mode: schedtypes.FlexibleTimeWindowModeOff},
		state:       schedtypes.ScheduleStateEnabled,
		after:       schedtypes.ActionAfterCompletionNone,
		target: schedtypes.Target{
			Arn:     aws.String(busARN),
			RoleArn: aws.String(b.cfg.SchedulerRoleARN),
			EventBridgeParameters: &schedtypes.EventBridgeParameters{
				Source:     aws.String(EventSource),
				DetailType: aws.String(EventDetailType),
			},
			Input: aws.String(b.scheduleInput(r.Name)),
			RetryPolicy: &schedtypes.RetryPolicy{
				MaximumRetryAttempts:     aws.Int32(b.cfg.DeliveryMaxAttempts),
				MaximumEventAgeInSeconds: aws.Int32(int32(b.cfg.DeliveryMaxAge.Seconds())),
			},
		},
	}
	if !r.EndDate.IsZero() {
		e := r.EndDate.UTC()
		w.end = &e
	}
	if r.FlexibleWindow > 0 {
		w.window = schedtypes.FlexibleTimeWindow{
			Mode:                   schedtypes.FlexibleTimeWindowModeFlexible,
			MaximumWindowInMinutes: aws.Int32(max(1, int32(r.FlexibleWindow/time.Minute))),
		}
	}
	if !r.Enabled {
		w.state = schedtypes.ScheduleStateDisabled
	}
	if isAt(r.Schedule) {
		// AWS deletes it once it has run: a one-time schedule is done then.
		w.after = schedtypes.ActionAfterCompletionDelete
	}
	if b.cfg.DLQARN != "" {
		w.target.DeadLetterConfig = &schedtypes.DeadLetterConfig{Arn: aws.String(b.cfg.DLQARN)}
	}
	return w
}

func (w wantSchedule) createInput(group string) *scheduler.CreateScheduleInput {
	return &scheduler.CreateScheduleInput{
		Name:                       aws.String(w.name),
		GroupName:                  aws.String(group),
		ScheduleExpression:         aws.String(w.expression),
		ScheduleExpressionTimezone: aws.String(w.timezone),
		Description:                aws.String(w.description),
		StartDate:                  w.start,
		EndDate:                    w.end,
		FlexibleTimeWindow:         &w.window,
		State:                      w.state,
		ActionAfterCompletion:      w.after,
		Target:                     &w.target,
	}
}

func (w wantSchedule) updateInput(group string) *scheduler.UpdateScheduleInput {
	c := w.createInput(group)
	return &scheduler.UpdateScheduleInput{
		Name: c.Name, GroupName: c.GroupName,
		ScheduleExpression: c.ScheduleExpression, ScheduleExpressionTimezone: c.ScheduleExpressionTimezone,
		Description: c.Description, StartDate: c.StartDate, EndDate: c.EndDate,
		FlexibleTimeWindow: c.FlexibleTimeWindow, State: c.State,
		ActionAfterCompletion: c.ActionAfterCompletion, Target: c.Target,
	}
}

// sameSecond compares two optional times to the second, as AWS keeps them.
func sameSecond(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Truncate(time.Second).Equal(b.Truncate(time.Second))
}

// startInStep reports whether the start AWS has (got) is what r wants at
// now: the rule's start itself, or, once that has passed (see startFor),
// none or a past one for cron() and at(), and for rate() a time on the
// start's grid up to the next fire time.
func startInStep(got *time.Time, r store.Rule, now time.Time) bool {
	if r.StartDate.IsZero() {
		return got == nil
	}
	s := r.StartDate.UTC()
	if sameSecond(got, &s) {
		return true
	}
	if s.After(now) {
		return false
	}
	p, ok := ratePeriod(r.Schedule)
	if !ok {
		return got == nil || !got.After(now)
	}
	// On the start's grid, and no later than its next fire time (a later
	// one would skip fires).
	if got == nil {
		return false
	}
	g, next := got.Truncate(time.Second), startFor(r, now).Truncate(time.Second)
	return (g.Unix()-s.Unix())%int64(p/time.Second) == 0 && !g.After(next)
}

// scheduleDiffers says how the schedule AWS has differs from what r wants,
// "" if it does not.
func scheduleDiffers(got *scheduler.GetScheduleOutput, want wantSchedule, r store.Rule, now time.Time) string {
	zone := aws.ToString(got.ScheduleExpressionTimezone)
	if zone == "" {
		zone = "UTC"
	}
	after := got.ActionAfterCompletion
	if after == "" {
		after = schedtypes.ActionAfterCompletionNone
	}
	switch {
	case aws.ToString(got.ScheduleExpression) != want.expression:
		return fmt.Sprintf("schedule %q, want %q", aws.ToString(got.ScheduleExpression), want.expression)
	case zone != want.timezone:
		return fmt.Sprintf("time zone %s, want %s", zone, want.timezone)
	case got.State != want.state:
		return fmt.Sprintf("state %s, want %s", got.State, want.state)
	case aws.ToString(got.Description) != want.description:
		return "description differs"
	case !startInStep(got.StartDate, r, now):
		return "start date differs"
	case !sameSecond(got.EndDate, want.end):
		return "end date differs"
	case got.FlexibleTimeWindow == nil || got.FlexibleTimeWindow.Mode != want.window.Mode ||
		aws.ToInt32(got.FlexibleTimeWindow.MaximumWindowInMinutes) != aws.ToInt32(want.window.MaximumWindowInMinutes):
		return "flexible time window differs"
	case after != want.after:
		return fmt.Sprintf("action after completion %s, want %s", after, want.after)
	}
	return scheduleTargetDiffers(got.Target, want.target)
}

func scheduleTargetDiffers(got *schedtypes.Target, want schedtypes.Target) string {
	switch {
	case got == nil:
		return "target missing"
	case aws.ToString(got.Arn) != aws.ToString(want.Arn):
		return "target is " + aws.ToString(got.Arn)
	case aws.ToString(got.RoleArn) != aws.ToString(want.RoleArn):
		return "target role is " + aws.ToString(got.RoleArn)
	case aws.ToString(got.Input) != aws.ToString(want.Input):
		return "target input differs"
	case got.EventBridgeParameters == nil ||
		aws.ToString(got.EventBridgeParameters.Source) != aws.ToString(want.EventBridgeParameters.Source) ||
		aws.ToString(got.EventBridgeParameters.DetailType) != aws.ToString(want.EventBridgeParameters.DetailType):
		return "target event source or detail type differs"
	case got.RetryPolicy == nil ||
		aws.ToInt32(got.RetryPolicy.MaximumRetryAttempts) != aws.ToInt32(want.RetryPolicy.MaximumRetryAttempts) ||
		aws.ToInt32(got.RetryPolicy.MaximumEventAgeInSeconds) != aws.ToInt32(want.RetryPolicy.MaximumEventAgeInSeconds):
		return "target retry policy differs"
	case scheduleDLQ(got) != scheduleDLQ(&want):
		return "target dead-letter queue differs"
	}
	return ""
}

func scheduleDLQ(t *schedtypes.Target) string {
	if t.DeadLetterConfig == nil {
		return ""
	}
	return aws.ToString(t.DeadLetterConfig.Arn)
}

// syncSchedule makes the schedule of r match it: created when missing,
// updated in place when it differs, left alone when it matches or r can
// fire no more (deleted then if it is another schedule than r's, which
// could fire). It returns the schedule's ARN and why it wrote ("" when it
// did not). mayExist false (a reconcile's listing has no such schedule)
// skips the GetSchedule.
func (b *Backend) syncSchedule(ctx context.Context, r store.Rule, w wiring, mayExist bool) (arn, why string, err error) {
	now := b.now().UTC()
	group := b.cfg.ScheduleGroup()
	var got *scheduler.GetScheduleOutput
	if mayExist {
		got, err = b.sched.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String(r.Name), GroupName: aws.String(group)})
		switch {
		case isNotFound(err):
			got = nil
		case err != nil:
			return "", "", fmt.Errorf("get schedule %s/%s: %w", group, r.Name, err)
		}
	}
	if finished(r, now) {
		if got == nil {
			return r.Sync.ARN, "", nil
		}
		// The schedule AWS has is another one than the rule's (the rule
		// was changed to an end that has passed, or to an at() whose time
		// has come): it could go on firing, so it goes. The rule's own
		// schedule, perhaps still inside its flexible window, stays.
		why := finishedDiffers(got, r)
		if why == "" {
			return aws.ToString(got.Arn), "", nil
		}
		if err := b.deleteSchedule(ctx, r.Name); err != nil {
			return "", "", fmt.Errorf("the rule fires no more (%s): %w", why, err)
		}
		return aws.ToString(got.Arn), "deleted: the rule fires no more, and AWS's schedule has " + why, nil
	}
	want := b.scheduleFor(r, w.busARN, now)
	if got == nil {
		out, err := b.sched.CreateSchedule(ctx, want.createInput(group))
		if err != nil {
			return "", "", fmt.Errorf("create schedule %s/%s: %w", group, r.Name, err)
		}
		return aws.ToString(out.ScheduleArn), "missing in EventBridge Scheduler", nil
	}
	why = scheduleDiffers(got, want, r, now)
	if why == "" {
		return aws.ToString(got.Arn), "", nil
	}
	out, err := b.sched.UpdateSchedule(ctx, want.updateInput(group))
	if err != nil {
		return "", "", fmt.Errorf("update schedule %s/%s (%s): %w", group, r.Name, why, err)
	}
	arn = aws.ToString(out.ScheduleArn)
	if arn == "" {
		arn = aws.ToString(got.Arn)
	}
	return arn, why, nil
}

// finishedDiffers says how the schedule AWS has for a rule that can fire
// no more differs from the rule in what decides its fire times, "" if it
// does not: then AWS's own end date or at() ends it as well.
func finishedDiffers(got *scheduler.GetScheduleOutput, r store.Rule) string {
	zone := aws.ToString(got.ScheduleExpressionTimezone)
	if zone == "" {
		zone = "UTC"
	}
	var end *time.Time
	if !r.EndDate.IsZero() {
		e := r.EndDate.UTC()
		end = &e
	}
	switch {
	case aws.ToString(got.ScheduleExpression) != r.Schedule:
		return fmt.Sprintf("schedule %q", aws.ToString(got.ScheduleExpression))
	case zone != zoneOf(r):
		return "time zone " + zone
	case !isAt(r.Schedule) && !sameSecond(got.EndDate, end):
		return "another end date"
	}
	return ""
}

// deleteSchedule deletes the schedule name from the agent's group; one that
// is not there is deleted already.
func (b *Backend) deleteSchedule(ctx context.Context, name string) error {
	group := b.cfg.ScheduleGroup()
	_, err := b.sched.DeleteSchedule(ctx, &scheduler.DeleteScheduleInput{Name: aws.String(name), GroupName: aws.String(group)})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("delete schedule %s/%s: %w", group, name, err)
	}
	return nil
}

// listSchedules lists the schedules in the agent's group, by name.
func (b *Backend) listSchedules(ctx context.Context) (map[string]schedtypes.ScheduleSummary, error) {
	group := b.cfg.ScheduleGroup()
	all := make(map[string]schedtypes.ScheduleSummary)
	in := &scheduler.ListSchedulesInput{GroupName: aws.String(group), MaxResults: aws.Int32(100)}
	for {
		page, err := b.sched.ListSchedules(ctx, in)
		if isNotFound(err) {
			return all, nil // no group (yet): no schedules
		}
		if err != nil {
			return nil, fmt.Errorf("list schedules in group %q: %w", group, err)
		}
		for _, s := range page.Schedules {
			if aws.ToString(s.GroupName) == group { // whatever the service did with the filter
				all[aws.ToString(s.Name)] = s
			}
		}
		if aws.ToString(page.NextToken) == "" {
			return all, nil
		}
		in.NextToken = page.NextToken
	}
}
