package sshconsole

import (
	"net"
	"sync"
	"time"
)

// DefaultRefusedLogInterval is Config.RefusedLogInterval's default.
const DefaultRefusedLogInterval = time.Minute

// maxRefusedAddrs bounds the addresses refusals are counted for; past it,
// new addresses share one count, so a flood of addresses cannot grow the
// table.
const maxRefusedAddrs = 4096

// refusals throttles the log of refused keys: the first refusal from an
// address in each interval is logged, with how many were refused since
// the address's last line and not logged. Anyone can offer keys, so a line
// each would let a stranger fill the log.
type refusals struct {
	every time.Duration
	now   func() time.Time

	mu sync.Mutex
	by map[string]*refused // by remote host
}

type refused struct {
	logged  time.Time // when its last line was written
	skipped int       // refusals since, not logged
}

// note counts a refusal from remote; it says whether to log it, and how
// many refusals from there went unlogged since the last line.
func (r *refusals) note(remote net.Addr) (log bool, skipped int) {
	host := ""
	if remote != nil {
		host = remote.String()
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
	}
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.by == nil {
		r.by = make(map[string]*refused)
	}
	e, ok := r.by[host]
	if !ok {
		if len(r.by) >= maxRefusedAddrs {
			for h, old := range r.by {
				if now.Sub(old.logged) >= r.every {
					delete(r.by, h)
				}
			}
		}
		if len(r.by) >= maxRefusedAddrs {
			host = "" // counted with the other addresses over the table
			e, ok = r.by[host]
		}
		if !ok {
			e = &refused{}
			r.by[host] = e
			e.logged = now
			return true, 0
		}
	}
	if now.Sub(e.logged) < r.every {
		e.skipped++
		return false, 0
	}
	skipped, e.skipped, e.logged = e.skipped, 0, now
	return true, skipped
}
