package egress_test

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/jobs/egress"
)

// loopbackServer serves on ip (a loopback address), counting requests.
func loopbackServer(t *testing.T, ip string, h http.Handler) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatalf("listen on %s: %v", ip, err)
	}
	var hits atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		h.ServeHTTP(w, r)
	}))
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &hits
}

var ok = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })

func get(client *http.Client, rawURL string) error {
	resp, err := client.Get(rawURL)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return nil
}

func withHost(t *testing.T, rawURL, host string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = net.JoinHostPort(host, u.Port())
	return u.String()
}

func TestTheClientRefusesLoopbackWhenItDials(t *testing.T) {
	t.Parallel()
	srv, hits := loopbackServer(t, "127.0.0.1", ok)
	client := (*egress.Policy)(nil).Client(5 * time.Second)
	for _, target := range []string{srv.URL, withHost(t, srv.URL, "localhost")} {
		err := get(client, target)
		if !errors.Is(err, egress.ErrRefused) || !strings.Contains(err.Error(), "(loopback): add ") ||
			!strings.Contains(err.Error(), "to JOBBRIDGE_HTTP_ALLOW to allow it") {
			t.Errorf("GET %s: %v, want it refused as loopback, saying how to allow it", target, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the server saw %d requests, want none", n)
	}
}

func TestTheClientCallsAnAllowedHost(t *testing.T) {
	t.Parallel()
	srv, hits := loopbackServer(t, "127.0.0.1", ok)
	tests := []struct {
		name, allow, url string
	}{
		{"by CIDR", "127.0.0.0/30", srv.URL},
		{"by address", "127.0.0.1", srv.URL},
		{"by host name", "LocalHost", withHost(t, srv.URL, "localhost")},
	}
	for _, tt := range tests {
		before := hits.Load()
		if err := get(mustParse(t, tt.allow).Client(5*time.Second), tt.url); err != nil {
			t.Errorf("%s: GET %s allowing %q: %v", tt.name, tt.url, tt.allow, err)
		}
		if hits.Load() != before+1 {
			t.Errorf("%s: the server did not see the request", tt.name)
		}
	}
}

func TestARedirectToARefusedAddressIsNotFollowed(t *testing.T) {
	t.Parallel()
	// 127.0.0.2 is loopback too, but only 127.0.0.1 is allowed.
	refused, refusedHits := loopbackServer(t, "127.0.0.2", ok)
	allowed, _ := loopbackServer(t, "127.0.0.1", http.RedirectHandler(refused.URL+"/secret", http.StatusFound))
	err := get(mustParse(t, "127.0.0.1/32").Client(5*time.Second), allowed.URL)
	if !errors.Is(err, egress.ErrRefused) || !strings.Contains(err.Error(), "egress policy refused 127.0.0.2 (loopback)") {
		t.Errorf("GET %s: %v, want the redirect to 127.0.0.2 refused", allowed.URL, err)
	}
	if n := refusedHits.Load(); n != 0 {
		t.Errorf("the refused server saw %d requests, want none", n)
	}
}

func TestRedirectsStopAfterTen(t *testing.T) {
	t.Parallel()
	var loop http.HandlerFunc = func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/again", http.StatusFound)
	}
	srv, hits := loopbackServer(t, "127.0.0.1", loop)
	err := get(mustParse(t, "127.0.0.1").Client(5*time.Second), srv.URL)
	if err == nil || !strings.Contains(err.Error(), "stopped after 10 redirects") {
		t.Errorf("GET: %v, want it stopped after 10 redirects", err)
	}
	if n := hits.Load(); n != 11 {
		t.Errorf("the server saw %d requests, want 11 (the first and 10 redirects)", n)
	}
}

func TestCheckRedirectRefusesOtherSchemesAndRefusedLiterals(t *testing.T) {
	t.Parallel()
	p := mustParse(t, "")
	for target, want := range map[string]string{
		"ftp://example.com/x":             `"ftp://" is not an http:// or https:// URL`,
		"http://169.254.169.254/latest/":  "egress policy refused 169.254.169.254 (link-local, the cloud metadata service)",
		"http://[fd00:ec2::254]/latest/":  "egress policy refused fd00:ec2::254 (unique local, the cloud metadata service)",
		"https://[::ffff:7f00:1]:8443/":   "egress policy refused ::ffff:127.0.0.1 (loopback)",
		"http://example.com/public/place": "",
	} {
		req, err := http.NewRequest(http.MethodGet, target, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = p.CheckRedirect(req, []*http.Request{{}})
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("CheckRedirect(%s) = %v, want %q", target, err, want)
		}
	}
}

func TestTheTransportUsesNoProxy(t *testing.T) {
	t.Parallel()
	if tr := mustParse(t, "").Transport(); tr.Proxy != nil {
		t.Error("the transport has a proxy, which would be judged instead of the destination")
	}
}
