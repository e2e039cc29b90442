package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// MaxRedirects is how many redirects a Client follows before it gives up.
const MaxRedirects = 10

// DialContext connects to addr ("host:port") as net.Dialer does, checking
// every address it actually connects to, after resolution, against the
// policy. It has the signature of http.Transport's DialContext.
func (p *Policy) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("egress: %w", err)
	}
	d := net.Dialer{
		Timeout:   30 * time.Second,
		KeepAlive: 30 * time.Second,
		// Control runs for each address tried, just before connect: the
		// address checked is the address connected.
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("egress: dialling %q: %w", address, err)
			}
			return p.Check(host, ap.Addr())
		},
	}
	return d.DialContext(ctx, network, addr)
}

// Transport returns a new HTTP transport, like http.DefaultTransport's
// settings, that dials through the policy and never uses a proxy: a proxy
// from the environment (HTTP_PROXY, HTTPS_PROXY) would make every connection
// go to the proxy, and the policy would judge the proxy instead of the real
// destination. Callers may set its TLSClientConfig; they must not replace
// its DialContext or Proxy.
func (p *Policy) Transport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.DialContext = p.DialContext
	t.DialTLSContext = nil
	return t
}

// Client returns an HTTP client that connects only where the policy allows,
// re-checks every redirect (CheckRedirect) and gives up on a request after
// timeout (none when zero).
func (p *Policy) Client(timeout time.Duration) *http.Client {
	return &http.Client{Transport: p.Transport(), CheckRedirect: p.CheckRedirect, Timeout: timeout}
}

// CheckRedirect has the signature of http.Client's CheckRedirect. Before a
// redirect is followed it refuses a target that is not http or https, one
// at a literal address the policy refuses, and the redirect after
// MaxRedirects. A target named by a host name is checked when it is dialled.
func (p *Policy) CheckRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > MaxRedirects { // via holds the first request and each redirect followed
		return fmt.Errorf("stopped after %d redirects", MaxRedirects)
	}
	return p.CheckURL(req.URL)
}

// CheckURL refuses a URL that is not http or https, has no host, or names a
// literal address the policy refuses. It cannot judge a host name, which
// may resolve to anything: the dialer checks what it resolves to.
func (p *Policy) CheckURL(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q is not an http:// or https:// URL", u.Scheme+"://")
	}
	host := u.Hostname()
	if host == "" {
		return errors.New("the URL has no host")
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return p.Check("", ip)
	}
	return nil
}
