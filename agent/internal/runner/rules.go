package runner

import (
	"context"
	"sync"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store"
)

// ruleCache keeps rules read by Fire for a short time, so that a burst of
// deliveries costs one read of the rule rather than one per delivery. A
// rule changed through this agent is forgotten at once (Forget); a change
// made elsewhere (another agent on the same PostgreSQL) is seen within the
// TTL. Unknown rules are not cached, so a new rule fires at once.
type ruleCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]cachedRule
}

type cachedRule struct {
	rule    store.Rule
	expires time.Time
}

func (c *ruleCache) get(ctx context.Context, s store.Store, name string) (store.Rule, error) {
	if rule, ok := c.cached(name); ok {
		return rule, nil
	}
	if c.ttl <= 0 {
		return s.RuleGet(ctx, name)
	}
	now := time.Now()
	rule, err := s.RuleGet(ctx, name)
	if err != nil {
		return rule, err
	}
	c.mu.Lock()
	if len(c.m) > 10_000 { // bound it whatever the number of rules
		clear(c.m)
	}
	c.m[name] = cachedRule{rule: rule, expires: now.Add(c.ttl)}
	c.mu.Unlock()
	return rule, nil
}

// cached returns the rule when the cache holds it unexpired.
func (c *ruleCache) cached(name string) (store.Rule, bool) {
	if c.ttl <= 0 {
		return store.Rule{}, false
	}
	c.mu.Lock()
	cr, ok := c.m[name]
	c.mu.Unlock()
	if !ok || !time.Now().Before(cr.expires) {
		return store.Rule{}, false
	}
	return cr.rule, true
}

func (c *ruleCache) forget(name string) {
	c.mu.Lock()
	delete(c.m, name)
	c.mu.Unlock()
}

// ForgetRule drops what the runner remembers of a rule; call it after the
// rule changed or was deleted so the next fire reads it afresh.
func (r *Runner) ForgetRule(name string) { r.rules.forget(name) }
