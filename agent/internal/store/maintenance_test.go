package store_test

import (
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store"
)

func TestMaintenanceCoversItsWindows(t *testing.T) {
	at := func(hm string) time.Time {
		tm, err := time.Parse("15:04", hm)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	on := store.Maintenance{On: true, Since: at("01:00"), Until: at("03:00")}
	ended := on.Ended(at("02:00")) // turned off early, by hand
	again := store.Maintenance{On: true, Since: at("05:00"), LastFrom: ended.LastFrom, LastTo: ended.LastTo}
	for _, c := range []struct {
		m    store.Maintenance
		at   string
		want bool
	}{
		{on, "00:59", false}, {on, "01:00", true}, {on, "02:59", true}, {on, "03:00", false},
		{ended, "00:59", false}, {ended, "01:30", true}, {ended, "02:00", false}, {ended, "02:30", false},
		{again, "01:30", true}, {again, "04:00", false}, {again, "05:00", true}, {again, "23:00", true},
		{store.Maintenance{}, "01:30", false},
	} {
		if got := c.m.Covered(at(c.at)); got != c.want {
			t.Errorf("%+v covers %s: %v, want %v", c.m, c.at, got, c.want)
		}
	}
	if off := (store.Maintenance{}).Ended(at("02:00")); off != (store.Maintenance{}) {
		t.Errorf("ending maintenance that was off: %+v, want it unchanged", off)
	}
}
