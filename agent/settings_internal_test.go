package agent

import (
	"flag"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the README's configuration table from Settings")

// The README's configuration table sits between these lines.
const (
	readmeTableBegin = "<!-- The table is made from agent.Settings: go test ./agent -run TestREADMEConfigurationTable -update -->"
	readmeTableEnd   = "<!-- end of the table made from agent.Settings -->"
)

// settingsMarkdown is the README's configuration table.
func settingsMarkdown() string {
	cell := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	var b strings.Builder
	b.WriteString("| Variable | Flag | Default | What |\n|---|---|---|---|\n")
	for _, s := range settings {
		def := cell(s.Default)
		if s.valueDefault {
			def = "`" + s.Default + "`"
		}
		b.WriteString("| `" + s.Env + "` | `--" + s.Flag + "` | " + def + " | " + cell(s.Description) + " |\n")
	}
	return b.String()
}

func TestREADMEConfigurationTable(t *testing.T) {
	const path = "../README.md"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	begin := strings.Index(readme, readmeTableBegin+"\n")
	end := strings.Index(readme, readmeTableEnd)
	if begin < 0 || end < begin {
		t.Fatalf("README.md has no configuration table between\n%s\nand\n%s", readmeTableBegin, readmeTableEnd)
	}
	begin += len(readmeTableBegin) + 1
	want := settingsMarkdown()
	if readme[begin:end] == want {
		return
	}
	if !*update {
		t.Fatalf("README.md's configuration table is not the one agent.Settings makes; run\n\tgo test ./agent -run TestREADMEConfigurationTable -update\nwant:\n%s", want)
	}
	if err := os.WriteFile(path, []byte(readme[:begin]+want+readme[end:]), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Every field of Config that is a setting has exactly one declaration, and
// every declaration sets exactly one field: a field added to Config without
// a flag and a variable fails here.
func TestSettingsDeclareEveryConfigFieldOnce(t *testing.T) {
	t.Parallel()
	owner := map[string]string{} // field path -> flag
	flags, envs := map[string]bool{}, map[string]bool{}
	for _, s := range settings {
		if s.Flag == "" || s.Description == "" || !strings.HasPrefix(s.Env, "JOBBRIDGE_") {
			t.Errorf("setting %+v: want a flag, a description and a JOBBRIDGE_ variable", s)
		}
		if flags[s.Flag] || envs[s.Env] {
			t.Errorf("--%s (%s) is declared twice", s.Flag, s.Env)
		}
		flags[s.Flag], envs[s.Env] = true, true

		var c Config
		if err := s.Set(&c, "7"); err != nil {
			if err := s.Set(&c, "7s"); err != nil {
				if err := s.Set(&c, "demo=7"); err != nil {
					t.Errorf("--%s takes neither 7, 7s nor demo=7: %v", s.Flag, err)
					continue
				}
			}
		}
		changed := changedFields(reflect.ValueOf(Config{}), reflect.ValueOf(c), "")
		if len(changed) != 1 {
			t.Errorf("--%s sets the fields %v, want exactly one", s.Flag, changed)
			continue
		}
		if other, ok := owner[changed[0]]; ok {
			t.Errorf("--%s and --%s both set %s", s.Flag, other, changed[0])
		}
		owner[changed[0]] = s.Flag
	}
	for _, field := range leafFields(reflect.TypeOf(Config{}), "") {
		if _, ok := owner[field]; !ok {
			t.Errorf("Config.%s has no setting", field)
		}
	}
}

func leafFields(t reflect.Type, prefix string) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Type.Kind() == reflect.Struct {
			out = append(out, leafFields(f.Type, prefix+f.Name+".")...)
			continue
		}
		out = append(out, prefix+f.Name)
	}
	return out
}

func changedFields(a, b reflect.Value, prefix string) []string {
	var out []string
	for i := range a.NumField() {
		name := prefix + a.Type().Field(i).Name
		if a.Field(i).Kind() == reflect.Struct {
			out = append(out, changedFields(a.Field(i), b.Field(i), name+".")...)
			continue
		}
		if a.Field(i).Kind() == reflect.Map {
			if !reflect.DeepEqual(a.Field(i).Interface(), b.Field(i).Interface()) {
				out = append(out, name)
			}
			continue
		}
		if !a.Field(i).Equal(b.Field(i)) {
			out = append(out, name)
		}
	}
	return out
}

// JOBBRIDGE_JOB_LIMITS is job=N pairs: what each bad value gets.
func TestParseJobLimits(t *testing.T) {
	t.Parallel()
	got, err := ParseJobLimits(" demo = 2,sql=1 ")
	if err != nil || !reflect.DeepEqual(got, map[string]int{"demo": 2, "sql": 1}) || FormatJobLimits(got) != "demo=2,sql=1" {
		t.Fatalf("ParseJobLimits: %v, %v", got, err)
	}
	for in, want := range map[string]string{
		"demo":          `"demo" is not job=N`,
		"=3":            `"=3" is not job=N`,
		"demo=x":        `job "demo": "x" is not a number of runs`,
		"demo=1,demo=2": `job "demo" has two limits`,
	} {
		if _, err := ParseJobLimits(in); err == nil || err.Error() != want {
			t.Errorf("ParseJobLimits(%q): %v, want %q", in, err, want)
		}
	}
	c := Config{DataDir: t.TempDir(), JobLimits: map[string]int{"demo": -1}}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), `JOBBRIDGE_JOB_LIMITS: job "demo": -1 is not a positive number of runs`) {
		t.Errorf("Validate of a negative limit: %v", err)
	}
}

// Validate fills in the very default that --help and the README show.
func TestValidateFillsTheDeclaredDefaults(t *testing.T) {
	t.Parallel()
	c := Config{DataDir: t.TempDir()}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, s := range settings {
		if s.valueDefault && s.get(&c) != s.Default {
			t.Errorf("after Validate --%s is %q, but its declared default is %q", s.Flag, s.get(&c), s.Default)
		}
	}
	if c.Node == "" || c.DataDir == "" {
		t.Errorf("Validate left the node %q or the data dir %q empty", c.Node, c.DataDir)
	}
	// A value given is kept.
	c = Config{DataDir: t.TempDir(), Retention: 48 * time.Hour, EventBridge: EventBridgeConfig{InvocationRate: 5}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Retention != 48*time.Hour || c.EventBridge.InvocationRate != 5 {
		t.Errorf("Validate replaced values given: retention %s, invocation rate %d", c.Retention, c.EventBridge.InvocationRate)
	}
}

// Each setting's own check names it by its variable, and Validate reports
// them all at once.
func TestValidateNamesEverySettingItChecks(t *testing.T) {
	t.Parallel()
	bad := map[string]string{
		"database-url": "mysql://db", "admin-token": "short", "scheduler": "sometimes",
		"retention": "1m", "shutdown-grace": "-1s", "max-log-lines": "-1",
		"http-allow": "not a cidr/99", "secrets-key": "c2hvcnQ=", "command-env": "JOBBRIDGE_ADMIN_TOKEN",
		"trusted-proxies": "999.1.1.1", "max-conns-per-address": "-1", "metrics-rule-series": "-1", "missed-grace": "soon",
		"eb-api-key": "short", "eb-invocation-rate": "-1", "eb-reconcile-interval": "1s",
		"notify-on": "sometimes", "notify-webhook-url": "ftp://x", "notify-sns-topic-arn": "topic",
		"notify-fold-window": "-1s", "cluster-heartbeat": "-1s", "cluster-lease": "-5s", "notify-smtp-tls": "ssl",
		"job-limits": "demo=0",
	}
	c := Config{DataDir: t.TempDir()}
	checked := 0
	for _, s := range settings {
		if s.check == nil {
			continue
		}
		checked++
		v, ok := bad[s.Flag]
		if !ok {
			t.Errorf("--%s has a check but the test gives it no bad value", s.Flag)
			continue
		}
		if err := s.Set(&c, v); err != nil {
			t.Fatalf("--%s %q: %v", s.Flag, v, err)
		}
	}
	if checked != len(bad) {
		t.Errorf("%d settings have checks, the test has bad values for %d", checked, len(bad))
	}
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate accepted every bad value")
	}
	for _, s := range settings {
		if s.check != nil && !strings.Contains(err.Error(), s.Env+": ") {
			t.Errorf("Validate does not name %s:\n%v", s.Env, err)
		}
		if strings.Contains(err.Error(), s.Env+": "+s.Env) {
			t.Errorf("Validate names %s twice:\n%v", s.Env, err)
		}
	}
}

// A credential has no default value (words such as "a key file in the
// data dir" are fine): --help and the README's table show defaults, and
// must never show a secret. The credentials are the settings
// that hold one (the tokens, keys, passwords and URLs with a secret).
func TestCredentialsHaveNoDefault(t *testing.T) {
	t.Parallel()
	var secret []string
	for _, s := range Settings() {
		if !s.Secret {
			continue
		}
		secret = append(secret, s.Env)
		if s.Default != "" && s.valueDefault {
			t.Errorf("%s is a credential with the default value %q", s.Env, s.Default)
		}
	}
	for _, want := range []string{"JOBBRIDGE_ADMIN_TOKEN", "JOBBRIDGE_DATABASE_URL", "JOBBRIDGE_SECRETS_KEY", "JOBBRIDGE_EB_API_KEY", "JOBBRIDGE_NOTIFY_SMTP_PASSWORD", "JOBBRIDGE_NOTIFY_WEBHOOK_URL"} {
		if !slices.Contains(secret, want) {
			t.Errorf("%s is not marked a credential (marked: %v)", want, secret)
		}
	}
}

// JOBBRIDGE_MISSED_GRACE is a duration, or off (or 0) to turn the
// dead-man's switch off; anything else is named with what is wrong.
func TestMissedGrace(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		value string
		grace time.Duration
		on    bool
		err   string
	}{
		{"", DefaultMissedGrace, true, ""},
		{"30s", 30 * time.Second, true, ""},
		{"off", 0, false, ""},
		{"0", 0, false, ""},
		{"soon", 0, false, `JOBBRIDGE_MISSED_GRACE: "soon" is not a duration (e.g. 2m) nor off`},
		{"-1m", 0, false, "JOBBRIDGE_MISSED_GRACE: -1m is negative (off turns the switch off)"},
	} {
		c := Config{DataDir: t.TempDir(), MissedGrace: tc.value}
		err := c.Validate()
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("JOBBRIDGE_MISSED_GRACE=%q: %v, want %q", tc.value, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("JOBBRIDGE_MISSED_GRACE=%q: %v", tc.value, err)
			continue
		}
		if grace, on := c.missedGrace(); grace != tc.grace || on != tc.on {
			t.Errorf("JOBBRIDGE_MISSED_GRACE=%q: grace %s, on %v; want %s, %v", tc.value, grace, on, tc.grace, tc.on)
		}
	}
}
