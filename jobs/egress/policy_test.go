package egress_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/jobbridge/jobbridge/jobs/egress"
)

func mustParse(t *testing.T, list string) *egress.Policy {
	t.Helper()
	p, err := egress.Parse(list)
	if err != nil {
		t.Fatalf("Parse(%q): %v", list, err)
	}
	return p
}

// These addresses are never dialled: the tests ask Check, which is what the
// dialer asks for every address it connects to.
func TestCheckRefusesNonPublicAddressesByDefault(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr   string
		reason string
	}{
		{"127.0.0.1", "(loopback)"},
		{"127.9.8.7", "(loopback)"},
		{"::1", "(loopback)"},
		{"169.254.169.254", "the cloud metadata service"},
		{"fd00:ec2::254", "the cloud metadata service"},
		{"169.254.170.2", "a cloud credentials service"},
		{"100.100.100.200", "the cloud metadata service"},
		{"169.254.1.1", "(link-local)"},
		{"fe80::1", "(link-local)"},
		{"fe80::1%eth0", "(link-local)"},
		{"10.1.2.3", "(private)"},
		{"172.16.0.1", "(private)"},
		{"172.31.255.255", "(private)"},
		{"192.168.1.1", "(private)"},
		{"fc00::1", "unique local"},
		{"fd12:3456::1", "unique local"},
		{"0.0.0.0", "(unspecified)"},
		{"0.1.2.3", "this network"},
		{"::", "(unspecified)"},
		{"100.64.0.1", "CGNAT"},
		{"224.0.0.1", "(multicast)"},
		{"ff02::1", "(multicast)"},
		{"255.255.255.255", "(broadcast)"},
		{"240.0.0.1", "(reserved)"},
		{"192.0.2.1", "(documentation)"},
		{"198.18.0.1", "(benchmarking)"},
		{"::ffff:127.0.0.1", "(loopback)"},
		{"::ffff:169.254.169.254", "the cloud metadata service"},
		{"::ffff:10.0.0.1", "(private)"},
		{"::ffff:0.0.0.0", "(unspecified)"},
		{"::127.0.0.1", "IPv4-compatible"},
		{"64:ff9b::7f00:1", "loopback 127.0.0.1 embedded in a NAT64 address"},
		{"64:ff9b::a9fe:a9fe", "the cloud metadata service 169.254.169.254 embedded in a NAT64 address"},
		{"2002:a9fe:a9fe::1", "the cloud metadata service 169.254.169.254 embedded in a 6to4 address"},
		{"2002:0a00:0001::1", "private 10.0.0.1 embedded in a 6to4 address"},
	}
	for _, policy := range []*egress.Policy{nil, mustParse(t, "")} {
		for _, tt := range tests {
			addr := netip.MustParseAddr(tt.addr)
			err := policy.Check("", addr)
			if !errors.Is(err, egress.ErrRefused) {
				t.Errorf("Check(%s) = %v, want it refused", tt.addr, err)
				continue
			}
			want := "egress policy refused " + addr.String() + " ("
			if msg := err.Error(); !strings.HasPrefix(msg, want) || !strings.Contains(msg, tt.reason) ||
				!strings.HasSuffix(msg, ": add it to JOBBRIDGE_HTTP_ALLOW to allow it") {
				t.Errorf("Check(%s) = %q, want %q... naming %q and how to allow it", tt.addr, msg, want, tt.reason)
			}
		}
	}
}

func TestCheckAllowsPublicAddresses(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{
		"8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2606:4700:4700::1111",
		"::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1",
	} {
		if err := (*egress.Policy)(nil).Check("", netip.MustParseAddr(addr)); err != nil {
			t.Errorf("Check(%s) = %v, want it allowed", addr, err)
		}
	}
}

func TestCheckFollowsTheAllowList(t *testing.T) {
	t.Parallel()
	policy := mustParse(t, " 10.0.0.0/8, 127.0.0.1 ,internal.example.com, *.svc.cluster.local, ::ffff:192.168.0.0/112, fd00:ec2::254,, ")
	tests := []struct {
		host, addr string
		allowed    bool
	}{
		{"", "10.9.8.7", true},
		{"", "::ffff:10.9.8.7", true},
		{"", "127.0.0.1", true},
		{"", "127.0.0.2", false},
		{"", "192.168.3.4", true}, // the IPv4-mapped network is the IPv4 one
		{"", "fd00:ec2::254", true},
		{"", "172.16.0.1", false},
		{"10.0.0.1", "10.0.0.1", true},
		{"internal.example.com", "169.254.169.254", true}, // a listed name may resolve to anything
		{"INTERNAL.Example.COM.", "127.0.0.9", true},
		{"other.example.com", "127.0.0.9", false},
		{"example.com", "127.0.0.9", false},
		{"api.svc.cluster.local", "172.16.0.1", true},
		{"a.b.svc.cluster.local", "172.16.0.1", true},
		{"svc.cluster.local", "172.16.0.1", false},
		{"evilsvc.cluster.local", "172.16.0.1", false},
		{"internal.example.com.evil.test", "172.16.0.1", false},
	}
	for _, tt := range tests {
		err := policy.Check(tt.host, netip.MustParseAddr(tt.addr))
		if tt.allowed && err != nil {
			t.Errorf("Check(%q, %s) = %v, want it allowed", tt.host, tt.addr, err)
		}
		if !tt.allowed && !errors.Is(err, egress.ErrRefused) {
			t.Errorf("Check(%q, %s) = %v, want it refused", tt.host, tt.addr, err)
		}
	}
	if got, want := policy.String(), "10.0.0.0/8, 127.0.0.1/32, internal.example.com, *.svc.cluster.local, 192.168.0.0/16, fd00:ec2::254/128"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestARefusalByNameSaysHowToAllowEither(t *testing.T) {
	t.Parallel()
	err := mustParse(t, "other.example.com").Check("Internal.Example.com", netip.MustParseAddr("10.0.0.1"))
	want := "egress policy refused internal.example.com at 10.0.0.1 (private): add internal.example.com or 10.0.0.1 to JOBBRIDGE_HTTP_ALLOW to allow it"
	if err == nil || err.Error() != want {
		t.Errorf("Check = %v, want %q", err, want)
	}
	var refused *egress.RefusedError
	if !errors.As(err, &refused) || refused.Reason != "private" || refused.Addr != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("Check = %#v, want a *RefusedError for 10.0.0.1, private", err)
	}
}

func TestParseNamesTheBadEntry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		list, want string
	}{
		{"10.0.0.0/8, 10.0.0.0/33", `egress allow list: entry "10.0.0.0/33": is not a CIDR such as 10.0.0.0/8`},
		{"10.0.0.1/8", `entry "10.0.0.1/8": has bits set beyond its /8 mask; did you mean 10.0.0.0/8?`},
		{"fe80::1%eth0", `entry "fe80::1%eth0": has an IPv6 zone`},
		{"https://internal.example.com", `entry "https://internal.example.com": is a URL; give just the host name or address`},
		{"internal.example.com:8443", `entry "internal.example.com:8443": has a port`},
		{"[::1]", `entry "[::1]": is not an IP address`},
		{"*", `entry "*": allows every name; to allow every address say 0.0.0.0/0, ::/0`},
		{"api.*.example.com", `entry "api.*.example.com": a wildcard may only be the whole first label`},
		{"*example.com", `entry "*example.com": a wildcard may only be the whole first label`},
		{"bad host.example.com", `entry "bad host.example.com": is not a host name`},
		{"-bad.example.com", `entry "-bad.example.com": is not a host name`},
		{"a..b", `entry "a..b": is not a host name`},
		{"*.", `entry "*.": allows every name`},
	}
	for _, tt := range tests {
		_, err := egress.Parse(tt.list)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) error = %v, want one containing %q", tt.list, err, tt.want)
		}
	}
}

func TestAnEmptyListAllowsNothingExtra(t *testing.T) {
	t.Parallel()
	for _, list := range []string{"", " ", " , ,"} {
		p := mustParse(t, list)
		if p.String() != "" {
			t.Errorf("Parse(%q).String() = %q, want empty", list, p.String())
		}
		if err := p.Check("localhost", netip.MustParseAddr("127.0.0.1")); !errors.Is(err, egress.ErrRefused) {
			t.Errorf("Parse(%q) allowed localhost: %v", list, err)
		}
	}
}
