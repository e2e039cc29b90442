package tui

import (
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/shared/client"
	"github.com/jobbridge/jobbridge/tui/internal/safe"
)

func TestReconnectDelaysDoubleUpToTheCap(t *testing.T) {
	s := newStreamer(safe.NewClient(client.New("http://x", "t")))
	prev := time.Duration(0)
	for n := 1; n <= 10; n++ {
		d := s.delay(n)
		if d > s.maxBackoff || d < s.backoff*4/5 {
			t.Errorf("delay(%d) = %s, outside [%s, %s]", n, d, s.backoff*4/5, s.maxBackoff)
		}
		if n <= 4 && d <= prev {
			t.Errorf("delay(%d) = %s does not grow from %s", n, d, prev)
		}
		prev = d
	}
}
