package session

import (
	"fmt"
	"strings"
	"time"

	"github.com/jobbridge/jobbridge/shared/api"
)

// Duration formats d compactly: "850ms", "42s", "3m07s", "2h05m", "3d04h".
func Duration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}

// ShortDuration writes a Go duration as an operator would, without its
// zero parts: "15m0s" is "15m", "1h0m0s" "1h". Anything else is left as
// it is.
func ShortDuration(s string) string {
	d, err := time.ParseDuration(s)
	if err != nil || d == 0 {
		return s
	}
	return api.FormatDuration(d)
}

// RunTime writes a Go duration measured from runs (a median) rounded the
// same way whatever its size, so that figures side by side read alike:
// three significant digits under a minute (5.001s is 5s, 1.594s 1.59s,
// 12.34ms 12.3ms), whole seconds under an hour (1m23s), whole minutes
// above (2h5m). Anything that is not a duration is left as it is.
func RunTime(s string) string {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return s
	}
	switch {
	case d >= time.Hour:
		d = d.Round(time.Minute)
	case d >= time.Minute:
		d = d.Round(time.Second)
	default:
		unit := time.Duration(1)
		for d/unit >= 1000 {
			unit *= 10
		}
		d = d.Round(unit)
	}
	return api.FormatDuration(d)
}

// Ago formats how long before now t was: "just now", "5m ago", "3d ago".
func Ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < 5*time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours())/24)
}

// Until formats how long after now t is: "in 42s", "in 3m", "in 2h05m".
func Until(now, t time.Time) string {
	d := t.Sub(now)
	switch {
	case d <= 0:
		return "now"
	case d < time.Minute:
		return fmt.Sprintf("in %ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("in %dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("in %dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("in %dd", int(d.Hours())/24)
}

// Stamp formats a local time for a list: the time alone when it is today,
// else the date too.
func Stamp(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	if y, m, d := t.Date(); y == now.Year() && m == now.Month() && d == now.Day() {
		return t.Format("15:04:05")
	}
	return t.Format("Jan 02 15:04")
}

// Bar draws a progress bar of width cells (brackets included) with the
// percentage after it: "[#####.....]  50%". Plain characters, so it reads
// with no colour at all.
func Bar(percent, width int) string {
	percent = max(0, min(100, percent))
	inner := width - 2 - 5
	if inner < 3 {
		return fmt.Sprintf("%3d%%", percent)
	}
	full := inner * percent / 100
	return "[" + strings.Repeat("#", full) + strings.Repeat(".", inner-full) + "]" + fmt.Sprintf(" %3d%%", percent)
}

// ShortID is the part of a run id the console shows, its tail: ids sort by
// time, so their ends differ.
func ShortID(id string) string {
	if len(id) > 8 {
		return id[len(id)-8:]
	}
	return id
}
