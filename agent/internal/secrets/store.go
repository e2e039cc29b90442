// Package secrets keeps secret rule parameters encrypted at rest.
//
// Open wraps the agent's store.Store in a Store that encrypts, when a rule is
// written, the values of the parameters its job declares secret
// (jobs.Param.Secret), and decrypts every encrypted value when a rule is
// read. Above it nothing sees a ciphertext; below it nothing holds a
// plaintext secret. Runs need nothing of this: they record secrets masked.
//
// The wrapper sits on the store because that is the one door every rule
// passes through (the API, the scheduler, the runner, the cluster's relay,
// commands), and because the store itself does not know which parameters
// are secret: the job registry does, and it is built after the store is
// opened, so UseJobs hands it over once the jobs are registered. Until then,
// and for a rule of a job the registry lacks, a value that is stored
// encrypted stays encrypted when the rule is written again.
//
// The key is JOBBRIDGE_SECRETS_KEY, or the key file secrets.key in the data
// dir, which a starting agent creates (0600) when the database records no
// key yet. The database records a check of the key (an HMAC, never the key)
// when the first value is encrypted: an agent with another key, or none,
// then refuses to start rather than fail on every rule, and several agents on
// one PostgreSQL database learn that they must share one key.
package secrets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/jobs"
)

// keyCheckName is the meta entry holding the key's check.
const keyCheckName = "secrets_key_check"

// ErrWrongKey is wrapped by the errors saying this agent's key is not the
// one the database's secret parameters are encrypted with, or that it has
// no key.
var ErrWrongKey = errors.New("wrong secrets key")

// Config says where the key is and who is opening the store.
type Config struct {
	// Key is JOBBRIDGE_SECRETS_KEY, base64 of 32 bytes. Empty (the
	// default): the key file in DataDir.
	Key string
	// DataDir holds the key file, secrets.key.
	DataDir string
	// Agent is set by a starting agent: the key is found, and checked
	// against the database, at once; the key file is created when there is
	// none and the database records no key; and the data dir is checked.
	// Commands leave it false: the key is found when a rule is first read
	// or written, and nothing is created.
	Agent bool
	// Logger gets the start-up notes and warnings. Default none.
	Logger *slog.Logger
}

// Store is a store.Store whose rules keep their secret parameters
// encrypted. Open returns it.
type Store struct {
	store.Store
	sup  store.SecretsSupport
	cfg  Config
	log  *slog.Logger
	jobs atomic.Pointer[jobs.Registry]
	// warned holds the undecryptable values already warned about.
	warned sync.Map

	mu       sync.Mutex
	resolved bool // key is final
	key      *Key // nil: no key (a command without one, on a database that records none)
	recorded bool // the database records key's check
}

// clusterStore is a Store over a database several agents share: it keeps
// the store.Cluster methods of the store it wraps.
type clusterStore struct {
	*Store
	store.Cluster
}

// Open wraps s, which must implement store.SecretsSupport (the SQLite and
// PostgreSQL stores do). The result implements store.Cluster when s does.
// Closing it closes s; on an error, s is left open.
func Open(ctx context.Context, s store.Store, cfg Config) (store.Store, error) {
	sup, ok := s.(store.SecretsSupport)
	if !ok {
		return nil, fmt.Errorf("secret parameters: a %T store cannot keep them encrypted", s)
	}
	if err := ValidateKey(cfg.Key); err != nil {
		return nil, err
	}
	st := &Store{Store: s, sup: sup, cfg: cfg, log: cfg.Logger}
	if st.log == nil {
		st.log = slog.New(slog.DiscardHandler)
	}
	if cfg.Agent {
		st.warnIfShared()
		key, err := st.resolve(ctx)
		if err != nil {
			return nil, err
		}
		st.log.Info("secret parameters are encrypted at rest", "key", key.Source(), "fingerprint", key.Fingerprint())
	}
	if cl, ok := s.(store.Cluster); ok {
		return &clusterStore{Store: st, Cluster: cl}, nil
	}
	return st, nil
}

// UseJobs tells the store s (from Open) which parameters are secret, and
// encrypts those that a store without that knowledge (an older agent) kept
// in plaintext, in one transaction that is safe while other agents do the
// same. It fails if the stored encrypted values need another key.
func UseJobs(ctx context.Context, s store.Store, reg *jobs.Registry) error {
	st, ok := s.(interface{ secretsStore() *Store })
	if !ok {
		return fmt.Errorf("secret parameters: %T is not a store from secrets.Open", s)
	}
	return st.secretsStore().useJobs(ctx, reg)
}

func (s *Store) secretsStore() *Store { return s }

func (s *Store) useJobs(ctx context.Context, reg *jobs.Registry) error {
	s.jobs.Store(reg)
	rules, err := s.Store.RuleList(ctx)
	if err != nil {
		return fmt.Errorf("check stored secret parameters: %w", err)
	}
	plaintext := 0
	for _, r := range rules {
		plaintext += len(s.plaintextSecrets(r))
		if _, err := s.decryptRule(ctx, r); err != nil {
			return err
		}
	}
	if plaintext == 0 {
		return nil
	}
	key, err := s.keyForWriting(ctx)
	if err != nil {
		return fmt.Errorf("encrypt secret parameters stored in plaintext: %w", err)
	}
	n, err := s.sup.RuleRewriteParams(ctx, func(r store.Rule) (map[string]string, bool, error) {
		names := s.plaintextSecrets(r)
		for _, name := range names {
			r.Parameters[name] = key.encrypt(r.Name, name, r.Parameters[name])
		}
		return r.Parameters, len(names) > 0, nil
	})
	if err != nil {
		return fmt.Errorf("encrypt secret parameters stored in plaintext: %w", err)
	}
	if n > 0 {
		s.log.Info("encrypted the secret parameters an older agent stored in plaintext", "rules", n)
	}
	return nil
}

// plaintextSecrets names r's parameters that its job says are secret and
// that are stored in plaintext.
func (s *Store) plaintextSecrets(r store.Rule) []string {
	secret, _ := s.secretParams(r.Job)
	var names []string
	for name, v := range r.Parameters {
		if secret[name] && !IsEncrypted(v) {
			names = append(names, name)
		}
	}
	return names
}

// secretParams returns the secret parameters of job, and whether the
// registry knows the job.
func (s *Store) secretParams(job string) (map[string]bool, bool) {
	reg := s.jobs.Load()
	if reg == nil {
		return nil, false
	}
	j, ok := reg.Get(job)
	if !ok {
		return nil, false
	}
	secret := map[string]bool{}
	for _, p := range j.Params() {
		if p.Secret {
			secret[p.Name] = true
		}
	}
	return secret, true
}

// RuleCreate stores r with its secret parameters encrypted.
func (s *Store) RuleCreate(ctx context.Context, r store.Rule) (store.Rule, error) {
	enc, err := s.encryptRule(ctx, r, nil)
	if err != nil {
		return store.Rule{}, fmt.Errorf("create rule %q: %w", r.Name, err)
	}
	got, err := s.Store.RuleCreate(ctx, enc)
	if err != nil {
		return store.Rule{}, err
	}
	return s.decryptRule(ctx, got)
}

// RuleUpdate stores r with its secret parameters encrypted.
func (s *Store) RuleUpdate(ctx context.Context, r store.Rule) (store.Rule, error) {
	stored := func() (map[string]string, error) {
		old, err := s.Store.RuleGet(ctx, r.Name)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		return old.Parameters, err
	}
	enc, err := s.encryptRule(ctx, r, stored)
	if err != nil {
		return store.Rule{}, fmt.Errorf("update rule %q: %w", r.Name, err)
	}
	got, err := s.Store.RuleUpdate(ctx, enc)
	if err != nil {
		return store.Rule{}, err
	}
	return s.decryptRule(ctx, got)
}

// RuleGet returns the rule with its secret parameters decrypted.
func (s *Store) RuleGet(ctx context.Context, name string) (store.Rule, error) {
	r, err := s.Store.RuleGet(ctx, name)
	if err != nil {
		return store.Rule{}, err
	}
	return s.decryptRule(ctx, r)
}

// RuleList returns every rule with its secret parameters decrypted.
func (s *Store) RuleList(ctx context.Context) ([]store.Rule, error) {
	rules, err := s.Store.RuleList(ctx)
	if err != nil {
		return nil, err
	}
	for i, r := range rules {
		if rules[i], err = s.decryptRule(ctx, r); err != nil {
			return nil, err
		}
	}
	return rules, nil
}

// encryptRule returns r with the values to keep secret encrypted (in a new
// map: the caller's stays as it is). Those are the values of the
// parameters the job declares secret, and any value that looks encrypted,
// so that reading it back is never ambiguous. For a job the registry does
// not know, it keeps encrypted what stored (when not nil) says is.
func (s *Store) encryptRule(ctx context.Context, r store.Rule, stored func() (map[string]string, error)) (store.Rule, error) {
	secret, known := s.secretParams(r.Job)
	var old map[string]string
	var names []string
	for name, v := range r.Parameters {
		enc := secret[name] || IsEncrypted(v)
		if !enc && !known && stored != nil {
			if old == nil {
				o, err := stored()
				if err != nil {
					return r, err
				}
				old = map[string]string{}
				maps.Copy(old, o)
			}
			enc = IsEncrypted(old[name])
		}
		if enc {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return r, nil
	}
	sort.Strings(names)
	key, err := s.keyForWriting(ctx)
	if err != nil {
		return r, fmt.Errorf("encrypt secret parameter %s: %w", strings.Join(names, ", "), err)
	}
	params := maps.Clone(r.Parameters)
	for _, name := range names {
		params[name] = key.encrypt(r.Name, name, params[name])
	}
	r.Parameters = params
	return r, nil
}

// decryptRule decrypts, in place, the encrypted values of a rule as stored.
// A value that does not decrypt with the database's own key was changed or
// moved in the database, and can never be read: the rule is returned
// without it, so the rule still runs, lists and can be given the value
// again. Any other failure (another key, or none) is an error, because
// writing such a rule back would lose a value that the right key reads.
func (s *Store) decryptRule(ctx context.Context, r store.Rule) (store.Rule, error) {
	for name, v := range r.Parameters {
		if !IsEncrypted(v) {
			continue
		}
		key, err := s.resolve(ctx)
		if err != nil {
			return store.Rule{}, err
		}
		plain := ""
		if key != nil {
			plain, err = key.decrypt(r.Name, name, v)
		}
		if key == nil || err != nil {
			if err := s.undecryptable(ctx, r.Name, name, v, key); err != nil {
				return store.Rule{}, err
			}
			delete(r.Parameters, name)
			continue
		}
		r.Parameters[name] = plain
	}
	return r, nil
}

// undecryptable returns the error for a stored value of rule's param that
// did not decrypt, or nil (after a warning, once per value) when it is the
// value that is wrong and not the key.
func (s *Store) undecryptable(ctx context.Context, rule, param, value string, key *Key) error {
	recorded, err := s.recordedCheck(ctx)
	switch {
	case err != nil:
		return err
	case key == nil && recorded != "":
		return s.noKeyError(recorded)
	case key == nil:
		return fmt.Errorf("rule %q: parameter %q is encrypted and this agent has no secrets key: set %s to the key it was encrypted with: %w",
			rule, param, KeyEnv, ErrWrongKey)
	case recorded == "":
		return fmt.Errorf("rule %q: parameter %q is encrypted, but the database records no key: set %s to the key it was encrypted with: %w",
			rule, param, KeyEnv, ErrWrongKey)
	case recorded != key.check:
		return s.wrongKeyError(recorded, key)
	}
	if _, seen := s.warned.LoadOrStore(rule+"\x00"+param+"\x00"+value, true); !seen {
		s.log.Warn("a secret parameter does not decrypt with the database's key: its stored value was changed, or moved from another rule or parameter; the rule is read without it until it is given again",
			"rule", rule, "parameter", param)
	}
	return nil
}
