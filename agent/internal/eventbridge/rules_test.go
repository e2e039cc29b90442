package eventbridge

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jobbridge/jobbridge/agent/internal/store"
)

func TestDescriptionsReachEventBridgeWholeUpToItsLimitInCharacters(t *testing.T) {
	t.Parallel()
	// The agent takes 512 characters, whatever their size in bytes; so
	// does EventBridge.
	for _, d := range []string{strings.Repeat("é", 300), strings.Repeat("é", 512)} {
		if got := description(store.Rule{Job: "demo", Description: d}); got != d {
			t.Errorf("description of %d characters sent as %d characters %q", utf8.RuneCountInString(d), utf8.RuneCountInString(got), got)
		}
	}
	// A longer one (stored before the limit) is cut between characters.
	got := description(store.Rule{Job: "demo", Description: strings.Repeat("é", 600)})
	if want := strings.Repeat("é", 509) + "..."; got != want {
		t.Errorf("description of 600 characters sent as %d characters (valid UTF-8: %t), want 509 and \"...\"", utf8.RuneCountInString(got), utf8.ValidString(got))
	}
}
