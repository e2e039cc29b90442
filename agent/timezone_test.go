package agent_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/eventbridge/ebtest"
	"github.com/jobbridge/jobbridge/agent/internal/service"
	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/client"
)

func rfc3339(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestRulesTakeAZoneDatesAndAWindow(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ta *testAgent) {
		ctx := context.Background()
		start, end := rfc3339(t, "2030-01-01T00:00:00Z"), rfc3339(t, "2030-01-03T23:00:00Z")
		r, err := ta.admin.CreateRule(ctx, api.RuleInput{
			Name: "kolkata", Job: "demo", Schedule: "  cron(0  12 * * ? *)  ", Timezone: "Asia/Kolkata",
			StartDate: &start, EndDate: &end, FlexibleWindow: "15m",
		})
		if err != nil {
			t.Fatal(err)
		}
		// Stored and answered in one canonical form; noon in Kolkata is
		// 06:30 UTC, from the start date to the end date.
		if r.Schedule != "cron(0 12 * * ? *)" || r.Timezone != "Asia/Kolkata" || r.FlexibleWindow != "15m0s" ||
			r.StartDate == nil || !r.StartDate.Equal(start) || r.EndDate == nil || !r.EndDate.Equal(end) {
			t.Errorf("created rule = %+v", r)
		}
		want := []time.Time{rfc3339(t, "2030-01-01T06:30:00Z"), rfc3339(t, "2030-01-02T06:30:00Z"), rfc3339(t, "2030-01-03T06:30:00Z")}
		if !slices.EqualFunc(r.NextFireTimes, want, time.Time.Equal) || r.Done {
			t.Errorf("nextFireTimes %v (done %t), want %v", r.NextFireTimes, r.Done, want)
		}
		if r.ScheduleText != "At 12:00 Asia/Kolkata" {
			t.Errorf("scheduleText %q", r.ScheduleText)
		}
		got, err := ta.admin.Rule(ctx, "kolkata")
		if err != nil || got.Timezone != "Asia/Kolkata" || !slices.EqualFunc(got.NextFireTimes, want, time.Time.Equal) {
			t.Errorf("read back %+v, %v", got, err)
		}

		// A one-time at() in a zone: 09:00 in Paris in July is 07:00 UTC.
		once, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "once", Job: "demo", Schedule: "at(2030-07-01T09:00:00)", Timezone: "Europe/Paris"})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.EqualFunc(once.NextFireTimes, []time.Time{rfc3339(t, "2030-07-01T07:00:00Z")}, time.Time.Equal) || once.Done {
			t.Errorf("at() rule: nextFireTimes %v, done %t", once.NextFireTimes, once.Done)
		}
		// One that has passed is kept, done, and never fires.
		past, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "past", Job: "demo", Schedule: "at(2020-07-01T09:00:00)"})
		if err != nil {
			t.Fatal(err)
		}
		if len(past.NextFireTimes) != 0 || !past.Done {
			t.Errorf("a passed at() rule: nextFireTimes %v, done %t; want none, done", past.NextFireTimes, past.Done)
		}
	})
}

func TestRuleScheduleFieldsRefuseBadValuesNamingTheField(t *testing.T) {
	t.Parallel()
	ta := startAgent(t, "sqlite")
	ctx := context.Background()
	start, end := rfc3339(t, "2030-01-02T00:00:00Z"), rfc3339(t, "2030-01-01T00:00:00Z")
	cases := []struct {
		name string
		in   api.RuleInput
		loc  string
		msg  string
	}{
		{"unknown zone", api.RuleInput{Schedule: "rate(1 hour)", Timezone: "Mars/Olympus"}, "body.timezone",
			`"Mars/Olympus" is not a time zone in the IANA database`},
		{"machine zone", api.RuleInput{Schedule: "rate(1 hour)", Timezone: "Local"}, "body.timezone", "depends on the machine"},
		{"malformed at", api.RuleInput{Schedule: "at(2030-01-01 09:00)"}, "body.schedule", "is not a date and time written yyyy-mm-ddThh:mm:ss"},
		{"at the clocks skip", api.RuleInput{Schedule: "at(2027-03-14T02:30:00)", Timezone: "America/New_York"}, "body.schedule",
			"does not exist in America/New_York"},
		{"end before start", api.RuleInput{Schedule: "rate(1 hour)", StartDate: &start, EndDate: &end}, "body.endDate",
			"2030-01-01T00:00:00Z is not after startDate 2030-01-02T00:00:00Z"},
		{"a start date in year 26", api.RuleInput{Schedule: "rate(1 hour)", StartDate: ptr(time.Date(26, 1, 1, 0, 0, 0, 0, time.UTC))}, "body.startDate",
			"0026-01-01T00:00:00Z is outside the years 1970-2199"},
		{"the zero time as an end date", api.RuleInput{Schedule: "rate(1 hour)", EndDate: &time.Time{}}, "body.endDate",
			"0001-01-01T00:00:00Z is outside the years 1970-2199"},
		{"dates on at", api.RuleInput{Schedule: "at(2030-01-01T09:00:00)", StartDate: &start}, "body.startDate", "takes no start date"},
		{"window too short", api.RuleInput{Schedule: "rate(1 hour)", FlexibleWindow: "30s"}, "body.flexibleWindow", "is outside 1m to 24h"},
		{"window too long", api.RuleInput{Schedule: "rate(1 hour)", FlexibleWindow: "25h"}, "body.flexibleWindow", "is outside 1m to 24h"},
		{"window in seconds", api.RuleInput{Schedule: "rate(1 hour)", FlexibleWindow: "90s"}, "body.flexibleWindow", "not a whole number of minutes"},
		{"window not a duration", api.RuleInput{Schedule: "rate(1 hour)", FlexibleWindow: "soon"}, "body.flexibleWindow", "is not a duration"},
	}
	for _, c := range cases {
		c.in.Name, c.in.Job = "bad", "demo"
		_, err := ta.admin.CreateRule(ctx, c.in)
		wantStatus(t, err, http.StatusBadRequest, c.name)
		if locs := problemLocations(err); !slices.Equal(locs, []string{c.loc}) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: problem at %v: %v; want only %s saying %q", c.name, locs, err, c.loc, c.msg)
		}
	}
	if rules, err := ta.admin.Rules(ctx); err != nil || len(rules) != 0 {
		t.Errorf("refused rules were stored: %+v %v", rules, err)
	}
}

func TestEventBridgeRulesModeRefusesWhatNeedsScheduler(t *testing.T) {
	fake := ebtest.NewFake(t)
	a, _ := startEventBridgeAgent(t, fake)
	ctx := context.Background()
	start := rfc3339(t, "2030-01-01T00:00:00Z")
	cases := []struct {
		in  api.RuleInput
		loc string
	}{
		{api.RuleInput{Schedule: "cron(0 9 * * ? *)", Timezone: "Europe/Paris"}, "body.timezone"},
		{api.RuleInput{Schedule: "at(2030-01-01T09:00:00)"}, "body.schedule"},
		{api.RuleInput{Schedule: "cron(0 9 * * ? *)", StartDate: &start}, "body.startDate"},
		{api.RuleInput{Schedule: "cron(0 9 * * ? *)", EndDate: &start}, "body.endDate"},
		{api.RuleInput{Schedule: "cron(0 9 * * ? *)", FlexibleWindow: "10m"}, "body.flexibleWindow"},
	}
	for _, c := range cases {
		c.in.Name, c.in.Job = "jb-needs-scheduler", "eb-demo"
		_, err := a.Service().RuleCreate(ctx, "test", c.in)
		var verr *service.ValidationError
		if !errors.As(err, &verr) || len(verr.Fields) != 1 || verr.Fields[0].Location != c.loc ||
			!strings.Contains(verr.Fields[0].Message, "needs EventBridge Scheduler") ||
			!strings.Contains(verr.Fields[0].Message, "JOBBRIDGE_SCHEDULER=scheduler") {
			t.Errorf("%+v: got %v, want one problem at %s naming the scheduler backend", c.in, err, c.loc)
		}
	}
	// Through HTTP too: a 400 that says so.
	c := client.New(a.URL(), ebAdminToken)
	_, err := c.CreateRule(ctx, api.RuleInput{Name: "jb-paris", Job: "eb-demo", Schedule: "cron(0 9 * * ? *)", Timezone: "Europe/Paris"})
	wantStatus(t, err, http.StatusBadRequest, "a zone in rules mode")
	// UTC and a plain cron stay fine.
	if _, err := c.CreateRule(ctx, api.RuleInput{Name: "jb-utc", Job: "eb-demo", Schedule: "cron(0 9 * * ? *)", Timezone: "UTC"}); err != nil {
		t.Errorf("a UTC rule in rules mode: %v", err)
	}
}

func TestRuleDatesThatAreNotRFC3339Are400(t *testing.T) {
	t.Parallel()
	ta := startAgent(t, "sqlite")
	for _, date := range []string{`"tomorrow"`, `"2030-01-01"`, `"2030-01-01 09:00:00"`, `1893456000`} {
		body := `{"name":"dated","job":"demo","schedule":"rate(1 hour)","startDate":` + date + `}`
		req, _ := http.NewRequest(http.MethodPost, ta.URL()+"/api/v1/rules", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+ta.token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var problem api.Problem
		err = json.NewDecoder(resp.Body).Decode(&problem)
		resp.Body.Close()
		var locs []string
		for _, e := range problem.Errors {
			locs = append(locs, e.Location)
		}
		if resp.StatusCode != http.StatusBadRequest || err != nil || !slices.Contains(locs, "body.startDate") {
			t.Errorf("startDate %s: %d %+v (%v), want 400 naming body.startDate", date, resp.StatusCode, problem, err)
		}
	}
}
