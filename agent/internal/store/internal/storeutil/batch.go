package storeutil

import (
	"context"
	"errors"
	"sync"
	"time"
)

// A Batcher commits concurrent calls of one kind of write together (group
// commit): a call that arrives while a batch is being written waits, and
// the calls that gathered meanwhile are written next, in one statement and
// one commit. A caller returns only once its own write has committed or
// failed, so a batched write is as durable as a single one; a lone call is
// written at once, without waiting for company.
//
// No goroutine runs in the background: the first caller to find no batch
// being written writes one (the leader), and on its way out hands the
// leadership to the first call still waiting, which writes the next batch.
type Batcher[Req, Res any] struct {
	// Write writes the batch's requests and sets each call's Res or Err. A
	// returned error fails every call it did not set. ctx is not any one
	// caller's: see Timeout.
	Write func(ctx context.Context, calls []*Call[Req, Res]) error
	// Max bounds a batch's calls. Default 256.
	Max int
	// Timeout bounds one batch's write. A batch serves many callers, so
	// one caller giving up does not cancel it. Default 10s.
	Timeout time.Duration
	// Linger is how long a leader waits for company before it takes its
	// batch: for writes whose callers are not waiting on a client (a run's
	// finish), fewer, larger batches mean fewer commits. Default 0.
	Linger time.Duration

	mu      sync.Mutex
	queue   []*Call[Req, Res]
	writing bool
}

// Call is one caller's request in a batch, and its outcome.
type Call[Req, Res any] struct {
	Req Req
	Res Res
	Err error

	set  bool
	done bool
	ctx  context.Context
	wake chan struct{} // signalled when done, or made the leader
}

// Set records the call's outcome; Write calls it for each call it settles.
func (c *Call[Req, Res]) Set(res Res, err error) {
	c.Res, c.Err, c.set = res, err, true
}

// IsSet reports whether the call's outcome is set.
func (c *Call[Req, Res]) IsSet() bool { return c.set }

// Do queues req, waits until it is written, and returns its outcome. A
// call whose ctx ends before its batch is written returns ctx's error and
// is not written; once its batch is being written it waits for the
// outcome (bounded by Timeout).
func (b *Batcher[Req, Res]) Do(ctx context.Context, req Req) (Res, error) {
	c := &Call[Req, Res]{Req: req, ctx: ctx, wake: make(chan struct{}, 1)}
	b.mu.Lock()
	b.queue = append(b.queue, c)
	lead := !b.writing
	b.writing = true
	b.mu.Unlock()
	for {
		if lead {
			b.lead()
		}
		<-c.wake
		b.mu.Lock()
		done := c.done
		b.mu.Unlock()
		if done {
			return c.Res, c.Err
		}
		lead = true
	}
}

// lead writes one batch from the head of the queue (the leader's own call
// is its first), then hands the leadership on or ends it.
func (b *Batcher[Req, Res]) lead() {
	max := b.Max
	if max <= 0 {
		max = 256
	}
	if b.Linger > 0 {
		time.Sleep(b.Linger)
	}
	b.mu.Lock()
	var batch []*Call[Req, Res]
	var gone []*Call[Req, Res]
	n := 0
	for _, c := range b.queue {
		if len(batch) == max {
			break
		}
		n++
		if c.ctx.Err() != nil {
			gone = append(gone, c)
			continue
		}
		batch = append(batch, c)
	}
	b.queue = append(b.queue[:0:0], b.queue[n:]...)
	b.mu.Unlock()

	if len(batch) > 0 {
		b.write(batch)
	}

	b.mu.Lock()
	for _, c := range gone {
		c.Err = context.Cause(c.ctx)
		c.done = true
		c.wake <- struct{}{}
	}
	for _, c := range batch {
		c.done = true
		c.wake <- struct{}{}
	}
	if len(b.queue) > 0 {
		b.queue[0].wake <- struct{}{} // not done: it leads next
	} else {
		b.writing = false
	}
	b.mu.Unlock()
}

func (b *Batcher[Req, Res]) write(batch []*Call[Req, Res]) {
	timeout := b.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(batch[0].ctx), timeout)
	defer cancel()
	err := b.Write(ctx, batch)
	for _, c := range batch {
		if !c.set {
			c.Err = err
			if err == nil {
				c.Err = errNoOutcome
			}
		}
	}
}

// errNoOutcome is a Write that settled neither a call nor failed: a bug.
var errNoOutcome = errors.New("storeutil: the batch write gave this call no outcome")

// OneByOne writes each call as a batch of its own: after a batch failed
// for a reason that may be one call's (a value the database refuses),
// the others still get written, and the one at fault gets its own error.
func OneByOne[Req, Res any](ctx context.Context, calls []*Call[Req, Res], write func(context.Context, []*Call[Req, Res]) error) {
	for _, c := range calls {
		if err := write(ctx, []*Call[Req, Res]{c}); err != nil && !c.set {
			var zero Res
			c.Set(zero, err)
		}
	}
}
