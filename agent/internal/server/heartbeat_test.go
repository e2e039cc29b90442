package server_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/server"
	"github.com/jobbridge/jobbridge/agent/internal/service"
	"github.com/jobbridge/jobbridge/agent/internal/store"
)

// The tests here check the streams' heartbeat at its default interval, 15s,
// in a synctest bubble: the handler is called directly and its response read
// through a pipe, so no network is involved and the 15 seconds pass on the
// bubble's virtual clock.

// defaultHeartbeat is what Config.Heartbeat is when left zero.
const defaultHeartbeat = 15 * time.Second

// bubbledServer is a server with a SQLite store, a runner and a service,
// built inside the test's synctest bubble.
type bubbledServer struct {
	h   http.Handler
	svc *service.Service
	run store.Run // a run that goes on until the test ends
}

func startBubbledServer(t *testing.T) *bubbledServer {
	t.Helper()
	p := newParts(t)
	s, reg, ev, r, svc := p.store, p.jobs, p.events, p.runner, p.svc
	ctx := context.Background()
	if _, err := s.RuleCreate(ctx, store.Rule{Name: "nightly", Job: "block", Schedule: "cron(0 3 * * ? *)", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	run, err := svc.RuleTrigger(ctx, service.Actor{Name: "test", Role: store.RoleAdmin}, "nightly", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	h := server.New(server.Config{Store: s, Firer: r, WebhookKey: key, Service: svc, Jobs: reg, Events: ev})
	return &bubbledServer{h: h, svc: svc, run: run}
}

// token creates a token of role and returns its secret.
func (b *bubbledServer) token(t *testing.T, name, role string) string {
	t.Helper()
	secret, _, err := b.svc.TokenCreate(context.Background(), "test", name, role)
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// pipedStream is a streaming response read as it is written.
type pipedStream struct {
	lines chan string   // each line the server wrote
	ended chan struct{} // closed when the handler returned and its lines are read
	mu    sync.Mutex
	text  strings.Builder // everything written
}

// open calls the handler for GET path with token and returns its stream;
// the request ends with the test.
func (b *bubbledServer) open(t *testing.T, token, path string) *pipedStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	pr, pw := io.Pipe()
	w := &pipeWriter{header: http.Header{}, w: pw}
	st := &pipedStream{lines: make(chan string, 1000), ended: make(chan struct{})}
	served := make(chan struct{})
	go func() {
		defer close(served)
		defer pw.Close()
		b.h.ServeHTTP(w, req)
	}()
	// ended is closed once the handler has returned and every line it
	// wrote is in text: a test that reads text once the stream ended sees
	// its last words.
	go func() {
		defer close(st.ended)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			st.mu.Lock()
			st.text.WriteString(sc.Text() + "\n")
			st.mu.Unlock()
			st.lines <- sc.Text()
		}
		close(st.lines)
		<-served
	}()
	t.Cleanup(func() {
		cancel()
		<-st.ended
	})
	return st
}

// String is everything the stream has written so far.
func (st *pipedStream) String() string {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.text.String()
}

// pipeWriter is a ResponseWriter whose body goes into a pipe.
type pipeWriter struct {
	header http.Header
	w      *io.PipeWriter
}

func (w *pipeWriter) Header() http.Header         { return w.header }
func (w *pipeWriter) WriteHeader(int)             {}
func (w *pipeWriter) Write(b []byte) (int, error) { return w.w.Write(b) }
func (w *pipeWriter) Flush()                      {}

func TestAnIdleStreamHeartbeatsEveryFifteenSeconds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startBubbledServer(t)
		token := b.token(t, "viewer", "viewer")
		for _, path := range []string{"/api/v1/events", "/api/v1/runs/" + b.run.ID + "/log?follow=1"} {
			start := time.Now()
			st := b.open(t, token, path)
			var beats []time.Duration
			for len(beats) < 2 {
				line, ok := <-st.lines
				if !ok {
					t.Fatalf("%s ended after %d heartbeats:\n%s", path, len(beats), st)
				}
				if strings.HasPrefix(line, ":") {
					if line != ": heartbeat" {
						t.Errorf("%s: comment %q, want \": heartbeat\"", path, line)
					}
					beats = append(beats, time.Since(start))
				}
			}
			if beats[0] != defaultHeartbeat || beats[1] != 2*defaultHeartbeat {
				t.Errorf("%s: heartbeats at %v, want at %s and %s", path, beats, defaultHeartbeat, 2*defaultHeartbeat)
			}
		}
	})
}

func TestARevokedTokensStreamsEndAtTheNextHeartbeat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startBubbledServer(t)
		leaver, stayer := b.token(t, "leaver", "viewer"), b.token(t, "stayer", "viewer")
		paths := []string{"/api/v1/events", "/api/v1/runs/" + b.run.ID + "/log?follow=1"}
		var leaving []*pipedStream
		for _, path := range paths {
			leaving = append(leaving, b.open(t, leaver, path))
		}
		staying := b.open(t, stayer, "/api/v1/events")
		time.Sleep(defaultHeartbeat / 3)
		synctest.Wait() // every stream is open and waits for its heartbeat

		if err := b.svc.TokenRevoke(context.Background(), "test", "leaver"); err != nil {
			t.Fatal(err)
		}
		revokedAt := time.Now()
		for i, st := range leaving {
			select {
			case <-st.ended:
			case <-time.After(2 * defaultHeartbeat):
				t.Fatalf("%s of a revoked token still streams %s after the revocation:\n%s", paths[i], 2*defaultHeartbeat, st)
			}
			if took := time.Since(revokedAt); took != defaultHeartbeat*2/3 {
				t.Errorf("%s ended %s after the revocation, want at the next heartbeat, %s later", paths[i], took, defaultHeartbeat*2/3)
			}
			if !strings.Contains(st.String(), ": the token was revoked; the stream is closed") {
				t.Errorf("%s ended without saying the token was revoked:\n%s", paths[i], st)
			}
		}
		synctest.Wait()
		select {
		case <-staying.ended:
			t.Errorf("the stream of a token still valid ended too:\n%s", staying)
		default:
		}
	})
}
