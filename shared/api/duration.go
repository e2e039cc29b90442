package api

import (
	"strings"
	"time"
)

// FormatDuration writes d as a Go duration without its zero parts, as the
// API and its clients show durations: 15m rather than 15m0s, 1h rather
// than 1h0m0s, 1h30m, 90s as 1m30s. time.ParseDuration reads it back.
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
