package secrets_test

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jobbridge/jobbridge/agent/internal/secrets"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/postgres"
	"github.com/jobbridge/jobbridge/agent/internal/store/postgres/pgtest"
)

func TestSecretParametersAreEncryptedAtRest(t *testing.T) {
	t.Parallel()
	eachKind(t, func(t *testing.T, db *testDB) {
		ctx := t.Context()
		s := db.mustStart(t, "")
		in := callRule("nightly")
		sent := maps.Clone(in.Parameters)
		created, err := s.RuleCreate(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(in.Parameters, sent) {
			t.Errorf("RuleCreate changed the caller's parameters: %v", in.Parameters)
		}
		if !maps.Equal(created.Parameters, sent) {
			t.Errorf("RuleCreate answered %v, want the plaintext %v", created.Parameters, sent)
		}

		stored := db.storedParams(t, "nightly")
		if !secrets.IsEncrypted(stored["bearer_token"]) || strings.Contains(stored["bearer_token"], token) {
			t.Errorf("the database holds bearer_token as %q, want it encrypted", stored["bearer_token"])
		}
		if stored["url"] != "https://example.com/hook" {
			t.Errorf("the database holds url as %q, want it as it is: only secrets are encrypted", stored["url"])
		}
		if db.kind == "sqlite" && db.fileHolds(t, token) {
			t.Errorf("the SQLite files hold the plaintext secret")
		}

		got, err := s.RuleGet(ctx, "nightly")
		if err != nil || got.Parameters["bearer_token"] != token {
			t.Errorf("RuleGet: %v, %v; want the secret in plaintext", got.Parameters, err)
		}
		list, err := s.RuleList(ctx)
		if err != nil || len(list) != 1 || list[0].Parameters["bearer_token"] != token {
			t.Errorf("RuleList: %+v, %v; want the secret in plaintext", list, err)
		}

		// An update encrypts the new value with a fresh nonce.
		got.Parameters["bearer_token"] = "tok-rotated"
		updated, err := s.RuleUpdate(ctx, got)
		if err != nil || updated.Parameters["bearer_token"] != "tok-rotated" {
			t.Fatalf("RuleUpdate: %v, %v", updated.Parameters, err)
		}
		after := db.storedParams(t, "nightly")["bearer_token"]
		if !secrets.IsEncrypted(after) || after == stored["bearer_token"] || strings.Contains(after, "tok-rotated") {
			t.Errorf("after the update the database holds %q, want a new ciphertext", after)
		}

		// Another start reads them with the key file it made.
		s.Close()
		s = db.mustStart(t, "")
		if got, err := s.RuleGet(ctx, "nightly"); err != nil || got.Parameters["bearer_token"] != "tok-rotated" {
			t.Errorf("after a restart: %v, %v", got.Parameters, err)
		}
	})
}

func TestPlaintextSecretsOfAnOlderAgentAreEncryptedAtStart(t *testing.T) {
	t.Parallel()
	eachKind(t, func(t *testing.T, db *testDB) {
		ctx := t.Context()
		old := db.openRaw(t)
		before, err := old.RuleCreate(ctx, callRule("nightly"))
		if err != nil {
			t.Fatal(err)
		}
		other := store.Rule{Name: "unknown", Job: "gone", Schedule: "rate(1 hour)", Parameters: map[string]string{"bearer_token": "not-ours-to-judge"}}
		if _, err := old.RuleCreate(ctx, other); err != nil {
			t.Fatal(err)
		}
		old.Close()
		if db.kind == "sqlite" && !db.fileHolds(t, token) {
			t.Fatal("the older agent's file does not hold the secret: the test proves nothing")
		}

		s := db.mustStart(t, "")
		stored := db.storedParams(t, "nightly")
		if !secrets.IsEncrypted(stored["bearer_token"]) || stored["url"] != "https://example.com/hook" {
			t.Errorf("after the start the database holds %v, want bearer_token encrypted and url as it was", stored)
		}
		if got := db.storedParams(t, "unknown")["bearer_token"]; got != "not-ours-to-judge" {
			t.Errorf("a rule of a job the agent lacks: stored %q, want it left as it was", got)
		}
		if db.kind == "sqlite" && db.fileHolds(t, token) {
			t.Errorf("the SQLite files still hold the plaintext secret after it was encrypted")
		}
		got, err := s.RuleGet(ctx, "nightly")
		if err != nil || got.Parameters["bearer_token"] != token {
			t.Fatalf("RuleGet: %v, %v; want the secret in plaintext", got.Parameters, err)
		}
		if !got.UpdatedAt.Equal(before.UpdatedAt) {
			t.Errorf("encrypting moved UpdatedAt from %v to %v: no one changed the rule", before.UpdatedAt, got.UpdatedAt)
		}
	})
}

func TestAgentsStartingTogetherEncryptOnce(t *testing.T) {
	t.Parallel()
	// Several agents share PostgreSQL; SQLite has one agent per file.
	db := &testDB{kind: "postgres", dir: t.TempDir(), url: pgtest.NewDatabase(t)}
	old := db.openRaw(t)
	for _, n := range []string{"a", "b", "c"} {
		if _, err := old.RuleCreate(t.Context(), callRule(n)); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()
	key := newKey()
	reg := registry(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			raw, err := postgres.Open(t.Context(), db.url)
			if err != nil {
				errs <- err
				return
			}
			defer raw.Close()
			s, err := secrets.Open(t.Context(), raw, secrets.Config{Key: key, DataDir: db.dir, Agent: true})
			if err == nil {
				err = secrets.UseJobs(t.Context(), s, reg)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("agents starting at once: %v", err)
		}
	}
	s := db.mustStart(t, key)
	rules, err := s.RuleList(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		if r.Parameters["bearer_token"] != token {
			t.Errorf("rule %s reads back %q", r.Name, r.Parameters["bearer_token"])
		}
		if v := db.storedParams(t, r.Name)["bearer_token"]; !secrets.IsEncrypted(v) {
			t.Errorf("rule %s is stored %q", r.Name, v)
		}
	}
}

func TestAnAgentWhoseKeyLostTheRaceNeitherReadsNorWritesSecrets(t *testing.T) {
	t.Parallel()
	// Two agents on one PostgreSQL, started with different keys before
	// either stored a secret: the first to encrypt records its key.
	db := &testDB{kind: "postgres", dir: t.TempDir(), url: pgtest.NewDatabase(t)}
	first := db.mustStart(t, newKey())
	late := db.mustStart(t, newKey())
	if _, err := first.RuleCreate(t.Context(), callRule("a")); err != nil {
		t.Fatal(err)
	}
	if _, err := late.RuleGet(t.Context(), "a"); !errors.Is(err, secrets.ErrWrongKey) || !strings.Contains(err.Error(), "encrypted with another key") {
		t.Errorf("read by the agent with the other key: got %v, want ErrWrongKey", err)
	}
	if _, err := late.RuleCreate(t.Context(), callRule("b")); !errors.Is(err, secrets.ErrWrongKey) {
		t.Errorf("write by the agent with the other key: got %v, want ErrWrongKey", err)
	}
	if _, err := first.RuleGet(t.Context(), "b"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the refused write stored something: %v", err)
	}
}

func TestAStoreWithSecretsRefusesAnotherKeyOrNone(t *testing.T) {
	t.Parallel()
	eachKind(t, func(t *testing.T, db *testDB) {
		keyA := newKey()
		s := db.mustStart(t, keyA)
		if _, err := s.RuleCreate(t.Context(), callRule("nightly")); err != nil {
			t.Fatal(err)
		}
		s.Close()
		ka, _ := secrets.ParseKey(keyA)

		_, err := db.agentStart(t, newKey())
		want := "the database's secret parameters are encrypted with another key (fingerprint " + ka.Fingerprint() + ")"
		if !errors.Is(err, secrets.ErrWrongKey) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "set JOBBRIDGE_SECRETS_KEY") {
			t.Errorf("start with another key: got %v, want ErrWrongKey saying %q and what to set", err, want)
		}

		// No key given, and no key file: the agent must not make one.
		_, err = db.agentStart(t, "")
		want = "the database's secret parameters are encrypted (key fingerprint " + ka.Fingerprint() + ") and this agent has no key"
		if !errors.Is(err, secrets.ErrWrongKey) || !strings.Contains(err.Error(), want) {
			t.Errorf("start without a key: got %v, want ErrWrongKey saying %q", err, want)
		}
		if _, err := os.Stat(filepath.Join(db.dir, secrets.KeyFile)); !os.IsNotExist(err) {
			t.Errorf("a start without the key made a key file (%v): the next start would use the wrong key", err)
		}

		s = db.mustStart(t, keyA)
		if got, err := s.RuleGet(t.Context(), "nightly"); err != nil || got.Parameters["bearer_token"] != token {
			t.Errorf("with the right key: %v, %v", got.Parameters, err)
		}
	})
}

func TestCommandsNeedTheKeyOnlyForRules(t *testing.T) {
	t.Parallel()
	eachKind(t, func(t *testing.T, db *testDB) {
		ctx := t.Context()
		s := db.mustStart(t, "")
		if _, err := s.RuleCreate(ctx, callRule("nightly")); err != nil {
			t.Fatal(err)
		}
		s.Close()

		// A command elsewhere, without the key: tokens work, rules say why not.
		cmd, err := db.open(t, secrets.Config{DataDir: t.TempDir()})
		if err != nil {
			t.Fatalf("open for a command: %v", err)
		}
		if _, err := cmd.TokenList(ctx); err != nil {
			t.Errorf("tokens without the key: %v", err)
		}
		if _, err := cmd.RuleList(ctx); !errors.Is(err, secrets.ErrWrongKey) {
			t.Errorf("rules without the key: got %v, want ErrWrongKey", err)
		}
		cmd.Close()

		// A command on the agent's data dir reads and writes them.
		cmd, err = db.open(t, secrets.Config{DataDir: db.dir})
		if err != nil {
			t.Fatal(err)
		}
		r, err := cmd.RuleGet(ctx, "nightly")
		if err != nil || r.Parameters["bearer_token"] != token {
			t.Fatalf("a command with the key file: %v, %v", r.Parameters, err)
		}
		// It has no job registry: a value stored encrypted stays so.
		r.Description = "changed by a command"
		if _, err := cmd.RuleUpdate(ctx, r); err != nil {
			t.Fatal(err)
		}
		if v := db.storedParams(t, "nightly")["bearer_token"]; !secrets.IsEncrypted(v) {
			t.Errorf("a command's update stored the secret as %q", v)
		}
	})
}

func TestKeyFileIsPrivateAndReused(t *testing.T) {
	t.Parallel()
	eachKind(t, func(t *testing.T, db *testDB) {
		s := db.mustStart(t, "")
		s.Close()
		path := filepath.Join(db.dir, secrets.KeyFile)
		info, err := os.Stat(path)
		if err != nil {
			t.Fatalf("the first start made no key file: %v", err)
		}
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("key file mode %04o, want 0600", perm)
		}
		first, _ := os.ReadFile(path)

		// An older copy made readable by others is made private again.
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		s = db.mustStart(t, "")
		if _, err := s.RuleCreate(t.Context(), callRule("nightly")); err != nil {
			t.Fatal(err)
		}
		s.Close()
		again, _ := os.ReadFile(path)
		if string(again) != string(first) {
			t.Errorf("the second start replaced the key file")
		}
		if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
			t.Errorf("a key file left 0644 is %04o after a start, want 0600", info.Mode().Perm())
		}
		s = db.mustStart(t, "")
		if got, err := s.RuleGet(t.Context(), "nightly"); err != nil || got.Parameters["bearer_token"] != token {
			t.Errorf("read back with the reused key file: %v, %v", got.Parameters, err)
		}
	})
}

func TestValuesCannotMoveBetweenRules(t *testing.T) {
	t.Parallel()
	eachKind(t, func(t *testing.T, db *testDB) {
		ctx := t.Context()
		var logs logBuffer
		s, err := db.open(t, secrets.Config{DataDir: db.dir, Agent: true, Logger: logs.logger()})
		if err != nil {
			t.Fatal(err)
		}
		if err := secrets.UseJobs(ctx, s, registry(t)); err != nil {
			t.Fatal(err)
		}
		a, b := callRule("a"), callRule("b")
		b.Parameters["bearer_token"] = "tok-of-b"
		for _, r := range []store.Rule{a, b} {
			if _, err := s.RuleCreate(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		// Someone with access to the database gives b's token to a, and
		// points a somewhere of their own.
		bParams := db.storedParams(t, "b")
		aParams := db.storedParams(t, "a")
		aParams["bearer_token"] = bParams["bearer_token"]
		aParams["url"] = "https://attacker.example"
		moved, _ := jsonText(aParams)
		db.exec(t, `UPDATE rules SET parameters = $1 WHERE name = 'a'`, moved)

		got, err := s.RuleGet(ctx, "a")
		if err != nil {
			t.Fatalf("a rule with a value moved into it: %v, want it read without the value", err)
		}
		if v, ok := got.Parameters["bearer_token"]; ok {
			t.Errorf("b's token moved to a reads back as %q, want it left out", v)
		}
		if !strings.Contains(logs.String(), `does not decrypt with the database's key`) || !strings.Contains(logs.String(), "rule=a parameter=bearer_token") {
			t.Errorf("no warning names the rule and parameter:\n%s", logs.String())
		}
		if rules, err := s.RuleList(ctx); err != nil || len(rules) != 2 {
			t.Errorf("RuleList with one bad value: %d rules, %v; want both", len(rules), err)
		}
		if strings.Count(logs.String(), "does not decrypt") != 1 {
			t.Errorf("a bad value is warned about once, not on every read:\n%s", logs.String())
		}
		if got, err := s.RuleGet(ctx, "b"); err != nil || got.Parameters["bearer_token"] != "tok-of-b" {
			t.Errorf("b itself: %v, %v", got.Parameters, err)
		}
	})
}

func TestValuesThatLookEncryptedRoundTrip(t *testing.T) {
	t.Parallel()
	eachKind(t, func(t *testing.T, db *testDB) {
		s := db.mustStart(t, "")
		r := callRule("r")
		r.Parameters["url"] = secrets.Prefix + "not-really"
		if _, err := s.RuleCreate(t.Context(), r); err != nil {
			t.Fatal(err)
		}
		got, err := s.RuleGet(t.Context(), "r")
		if err != nil || got.Parameters["url"] != secrets.Prefix+"not-really" {
			t.Errorf("a plain value that starts like an encrypted one: %v, %v", got.Parameters, err)
		}
	})
}

func TestClusterMethodsStayAndRawOnesDoNot(t *testing.T) {
	t.Parallel()
	eachKind(t, func(t *testing.T, db *testDB) {
		s := db.mustStart(t, "")
		if _, ok := s.(store.Cluster); ok != (db.kind == "postgres") {
			t.Errorf("%s: implements store.Cluster = %v", db.kind, ok)
		}
		if _, ok := s.(store.SecretsSupport); ok {
			t.Errorf("the wrapped store offers store.SecretsSupport, which reaches ciphertexts")
		}
	})
}

func TestSharedDataDirIsWarnedAbout(t *testing.T) {
	t.Parallel()
	eachKind(t, func(t *testing.T, db *testDB) {
		if err := os.Chmod(db.dir, 0o755); err != nil {
			t.Fatal(err)
		}
		var logs logBuffer
		if _, err := db.open(t, secrets.Config{DataDir: db.dir, Agent: true, Logger: logs.logger()}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(logs.String(), "level=WARN msg=\"the data dir is open to other users") || !strings.Contains(logs.String(), "mode=0755") {
			t.Errorf("a 0755 data dir: the log says\n%s\nwant a warning naming the mode", logs.String())
		}
	})
}

func TestBadKeyIsAClearError(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"c2hvcnQ=", "not base64 at all!", newKey() + "AAAA"} {
		err := secrets.ValidateKey(bad)
		if err == nil || !strings.HasPrefix(err.Error(), "JOBBRIDGE_SECRETS_KEY: ") || !strings.Contains(err.Error(), "32") {
			t.Errorf("ValidateKey(%q): got %v, want an error naming JOBBRIDGE_SECRETS_KEY and the size", bad, err)
		}
		if err != nil && strings.Contains(err.Error(), bad) {
			t.Errorf("the error quotes the key: %v", err)
		}
	}
	if err := secrets.ValidateKey(""); err != nil {
		t.Errorf("no key (use the key file): %v", err)
	}
	if err := secrets.ValidateKey(newKey()); err != nil {
		t.Errorf("a good key: %v", err)
	}
}
