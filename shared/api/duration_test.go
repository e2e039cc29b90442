package api_test

import (
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/shared/api"
)

func TestFormatDurationDropsZeroParts(t *testing.T) {
	for d, want := range map[time.Duration]string{
		15 * time.Minute: "15m", time.Hour: "1h", 90 * time.Minute: "1h30m", 90 * time.Second: "1m30s",
		720 * time.Hour: "720h", 30 * time.Second: "30s", time.Hour + time.Second: "1h0m1s", 0: "0s",
	} {
		if got := api.FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
