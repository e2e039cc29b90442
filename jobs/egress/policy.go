package egress

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Setting is where the agent reads the allow list; refusals tell the admin
// to add to it.
const Setting = "JOBBRIDGE_HTTP_ALLOW"

// ErrRefused is wrapped by every refusal; match it with errors.Is.
var ErrRefused = errors.New("egress policy refused the address")

// RefusedError is a refused connection: which name and address, and why.
type RefusedError struct {
	Host   string     // the name asked for; "" when the address was given literally
	Addr   netip.Addr // the address refused
	Reason string     // what kind of address it is: "loopback", "private", ...
}

func (e *RefusedError) Error() string {
	if e.Host == "" {
		return fmt.Sprintf("egress policy refused %s (%s): add it to %s to allow it", e.Addr, e.Reason, Setting)
	}
	return fmt.Sprintf("egress policy refused %s at %s (%s): add %s or %s to %s to allow it",
		e.Host, e.Addr, e.Reason, e.Host, e.Addr, Setting)
}

// Unwrap makes errors.Is(err, ErrRefused) true.
func (e *RefusedError) Unwrap() error { return ErrRefused }

// Policy is what a job may connect to beyond public addresses. The zero
// value, like a nil *Policy, allows public addresses only. A Policy is not
// changed after Parse, so one may be shared by any number of goroutines.
type Policy struct {
	prefixes []netip.Prefix
	names    map[string]bool // exact names, lower case, no final dot
	suffixes []string        // ".svc.cluster.local" for "*.svc.cluster.local"
	entries  []string        // as normalised, for String
}

// Parse reads a comma-separated allow list of CIDRs, addresses, host names
// and "*." wildcards (see the package documentation). Blanks around entries
// and empty entries are ignored; an empty list allows public addresses only.
// An error names the first bad entry and what is wrong with it.
func Parse(list string) (*Policy, error) {
	p := &Policy{names: map[string]bool{}}
	for entry := range strings.SplitSeq(list, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		if err := p.add(entry); err != nil {
			return nil, fmt.Errorf("egress allow list: entry %q: %w", entry, err)
		}
	}
	return p, nil
}

func (p *Policy) add(entry string) error {
	switch {
	case strings.Contains(entry, "://"):
		return errors.New("is a URL; give just the host name or address")
	case strings.Contains(entry, "/"):
		prefix, err := netip.ParsePrefix(entry)
		if err != nil {
			return errors.New("is not a CIDR such as 10.0.0.0/8 or fd00::/8")
		}
		if prefix.Addr().Zone() != "" {
			return errors.New("has an IPv6 zone; give the network without it")
		}
		if masked := prefix.Masked(); masked != prefix {
			return fmt.Errorf("has bits set beyond its /%d mask; did you mean %s?", prefix.Bits(), masked)
		}
		p.addPrefix(prefix)
		return nil
	}
	if addr, err := netip.ParseAddr(entry); err == nil {
		if addr.Zone() != "" {
			return errors.New("has an IPv6 zone; give the address without it")
		}
		p.addPrefix(netip.PrefixFrom(addr, addr.BitLen()))
		return nil
	}
	if strings.HasPrefix(entry, "[") || strings.Count(entry, ":") > 1 {
		return errors.New("is not an IP address")
	}
	if strings.Contains(entry, ":") {
		return errors.New("has a port; the policy is by host or address, not port")
	}
	name := strings.TrimSuffix(strings.ToLower(entry), ".")
	if rest, ok := strings.CutPrefix(name, "*."); ok {
		if err := checkHostName(rest); err != nil {
			return err
		}
		p.suffixes = append(p.suffixes, "."+rest)
		p.entries = append(p.entries, name)
		return nil
	}
	if name == "*" {
		return errors.New("allows every name; to allow every address say 0.0.0.0/0, ::/0")
	}
	if err := checkHostName(name); err != nil {
		return err
	}
	p.names[name] = true
	p.entries = append(p.entries, name)
	return nil
}

// addPrefix records an allowed network, IPv4-mapped ones as the IPv4
// network they are, since Check judges mapped addresses as IPv4.
func (p *Policy) addPrefix(prefix netip.Prefix) {
	if prefix.Addr().Is4In6() && prefix.Bits() >= 96 {
		prefix = netip.PrefixFrom(prefix.Addr().Unmap(), prefix.Bits()-96)
	}
	p.prefixes = append(p.prefixes, prefix)
	p.entries = append(p.entries, prefix.String())
}

// checkHostName reports what is wrong with a host name (lower case, without
// a final dot): 1-63 letters, digits, '-' and '_' per label, no label
// starting or ending with '-', 253 characters at most.
func checkHostName(name string) error {
	if strings.Contains(name, "*") {
		return errors.New("a wildcard may only be the whole first label, as in *.example.com")
	}
	if name == "" || len(name) > 253 {
		return errors.New("is not a host name")
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return errors.New("is not a host name")
		}
		for _, c := range []byte(label) {
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return errors.New("is not a host name")
			}
		}
	}
	return nil
}

// String returns the allow list as normalised, comma-separated; "" when it
// allows nothing beyond public addresses.
func (p *Policy) String() string {
	if p == nil {
		return ""
	}
	return strings.Join(p.entries, ", ")
}

// Check is the policy's decision on connecting to ip, reached by the name
// host ("" when there was none, or when it was the literal address). It
// returns nil when ip is public, when host is on the allow list (whatever ip
// it resolved to) or when ip is in an allowed network; otherwise a
// *RefusedError, which wraps ErrRefused.
func (p *Policy) Check(host string, ip netip.Addr) error {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if _, err := netip.ParseAddr(host); err == nil {
		host = "" // a literal address is judged as an address, never a name
	}
	if p.allowsName(host) {
		return nil
	}
	if reason := p.refusal(ip.WithZone("").Unmap()); reason != "" {
		return &RefusedError{Host: host, Addr: ip, Reason: reason}
	}
	return nil
}

// allowsName reports whether the allow list names host, which must be in
// lower case without a final dot.
func (p *Policy) allowsName(host string) bool {
	if p == nil || host == "" {
		return false
	}
	if p.names[host] {
		return true
	}
	for _, suffix := range p.suffixes {
		if len(host) > len(suffix) && strings.HasSuffix(host, suffix) {
			return true
		}
	}
	return false
}

// refusal says why ip (unmapped, without a zone) is refused, "" when it is
// not.
func (p *Policy) refusal(ip netip.Addr) string {
	if !ip.IsValid() {
		return "not an IP address"
	}
	if p.allowsAddr(ip) {
		return ""
	}
	if reason := nonPublic(ip); reason != "" {
		return reason
	}
	if v4, how, ok := embeddedIPv4(ip); ok {
		if reason := p.refusal(v4); reason != "" {
			return reason + " " + v4.String() + " embedded in a " + how + " address"
		}
	}
	return ""
}

func (p *Policy) allowsAddr(ip netip.Addr) bool {
	if p == nil {
		return false
	}
	for _, prefix := range p.prefixes {
		if prefix.Contains(ip) {
			return true
		}
	}
	return false
}
