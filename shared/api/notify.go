package api

import (
	"fmt"
	"slices"
	"strings"
)

// NotifyKind is an outcome of a run that may notify: what the agent's
// JOBBRIDGE_NOTIFY_ON and a rule's notify.on list. It is declared here once
// for the agent's settings, its rules, its notifications and its clients.
type NotifyKind string

// The kinds of notification.
const (
	NotifyFailed      NotifyKind = "failed"
	NotifyCancelled   NotifyKind = "cancelled" // by an operator; never by the agent's shutdown
	NotifyInterrupted NotifyKind = "interrupted"
	NotifyTimeout     NotifyKind = "timeout"
	NotifyRecovered   NotifyKind = "recovered" // the first success after a failure of the same rule
	NotifyMissed      NotifyKind = "missed"    // an expected fire did not come (the dead-man's switch)
	NotifySlow        NotifyKind = "slow"      // a run went on past its rule's warnAfter
)

// NotifyKinds lists every kind.
var NotifyKinds = []NotifyKind{
	NotifyFailed, NotifyCancelled, NotifyInterrupted, NotifyTimeout, NotifyRecovered, NotifyMissed, NotifySlow,
}

// NotifyNone is the word that, alone in a rule's notify.on, turns its
// notifications off.
const NotifyNone = "none"

// Valid reports whether k is one of NotifyKinds.
func (k NotifyKind) Valid() bool { return slices.Contains(NotifyKinds, k) }

// ParseNotifyKind returns the kind named s (exactly), or an error that
// lists the kinds.
func ParseNotifyKind(s string) (NotifyKind, error) {
	if k := NotifyKind(s); k.Valid() {
		return k, nil
	}
	return "", unknownNotifyKind(s)
}

// ParseNotifyKinds reads a list like "failed,timeout" (commas or spaces,
// any case), each kind once, in the order given.
func ParseNotifyKinds(list string) ([]NotifyKind, error) {
	var out []NotifyKind
	for _, f := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' }) {
		k := NotifyKind(strings.ToLower(f))
		if !k.Valid() {
			return nil, unknownNotifyKind(f)
		}
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out, nil
}

func unknownNotifyKind(s string) error {
	names := make([]string, len(NotifyKinds))
	for i, k := range NotifyKinds {
		names[i] = string(k)
	}
	return fmt.Errorf("%q is not one of %s", s, strings.Join(names, ", "))
}
