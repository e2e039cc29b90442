package eventbridge

import (
	"sync"
	"time"
)

// queue holds the names of the rules to bring in step with AWS, each with
// when to try next and how often it was tried. A name is in it at most once.
type queue struct {
	mu    sync.Mutex
	items map[string]*queued
	wake  chan struct{}
}

type queued struct {
	due      time.Time
	attempts int // failed tries so far
}

func newQueue() *queue {
	return &queue{items: make(map[string]*queued), wake: make(chan struct{}, 1)}
}

// add queues name to be tried now, unless it already waits out a backoff:
// a change does not make the agent ignore AWS's throttling.
func (q *queue) add(name string, now time.Time) {
	q.mu.Lock()
	if _, ok := q.items[name]; !ok {
		q.items[name] = &queued{due: now}
	}
	q.mu.Unlock()
	q.signal()
}

// retry queues name again after a failure, at due, counting the attempt. If
// the name was queued again meanwhile, the later of the two times wins.
func (q *queue) retry(name string, attempts int, due time.Time) {
	q.mu.Lock()
	if it, ok := q.items[name]; ok {
		if due.After(it.due) {
			it.due = due
		}
		it.attempts = max(it.attempts, attempts)
	} else {
		q.items[name] = &queued{due: due, attempts: attempts}
	}
	q.mu.Unlock()
	q.signal()
}

// has reports whether name is queued.
func (q *queue) has(name string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	_, ok := q.items[name]
	return ok
}

// next takes the name due first if it is due at now; otherwise it says how
// long until the first one is (ok false, wait < 0 if none is queued).
func (q *queue) next(now time.Time) (name string, attempts int, wait time.Duration, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var first *queued
	for n, it := range q.items {
		if first == nil || it.due.Before(first.due) || (it.due.Equal(first.due) && n < name) {
			first, name = it, n
		}
	}
	if first == nil {
		return "", 0, -1, false
	}
	if first.due.After(now) {
		return "", 0, first.due.Sub(now), false
	}
	delete(q.items, name)
	return name, first.attempts, 0, true
}

func (q *queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}
