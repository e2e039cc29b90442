package egress

import "net/netip"

// nonPublicRanges are the networks refused unless allowed, each with what
// it is; the first that holds an address names it, so the specific come
// before the general.
var nonPublicRanges = []struct {
	prefix netip.Prefix
	reason string
}{
	// Cloud metadata and credential services: AWS, GCP, Azure, OCI
	// (169.254.169.254, fd00:ec2::254), ECS and EKS task and pod credentials
	// (169.254.170.2, 169.254.170.23, fd00:ec2::23), Alibaba (100.100.100.200).
	{netip.MustParsePrefix("169.254.169.254/32"), "link-local, the cloud metadata service"},
	{netip.MustParsePrefix("169.254.170.2/32"), "link-local, a cloud credentials service"},
	{netip.MustParsePrefix("169.254.170.23/32"), "link-local, a cloud credentials service"},
	{netip.MustParsePrefix("fd00:ec2::254/128"), "unique local, the cloud metadata service"},
	{netip.MustParsePrefix("fd00:ec2::23/128"), "unique local, a cloud credentials service"},
	{netip.MustParsePrefix("100.100.100.200/32"), "shared address space, the cloud metadata service"},

	// IPv4 (RFC 6890 and its updates).
	{netip.MustParsePrefix("0.0.0.0/32"), "unspecified"},
	{netip.MustParsePrefix("0.0.0.0/8"), `"this network"`},
	{netip.MustParsePrefix("10.0.0.0/8"), "private"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared address space (CGNAT)"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private"},
	{netip.MustParsePrefix("192.0.0.0/24"), "reserved for protocol assignments"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("192.88.99.0/24"), "6to4 relay anycast"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("255.255.255.255/32"), "broadcast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},

	// IPv6 (RFC 6890, RFC 4291 and their updates).
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("::/96"), "IPv4-compatible, deprecated"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use NAT64"},
	{netip.MustParsePrefix("100::/64"), "discard-only"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	{netip.MustParsePrefix("3fff::/20"), "documentation"},
	{netip.MustParsePrefix("fc00::/7"), "private (unique local)"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("fec0::/10"), "site-local, deprecated"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

// nonPublic says what kind of non-public address ip (unmapped, without a
// zone) is; "" when it is none of them.
func nonPublic(ip netip.Addr) string {
	for _, r := range nonPublicRanges {
		if r.prefix.Contains(ip) {
			return r.reason
		}
	}
	return ""
}

var (
	nat64Prefix = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour   = netip.MustParsePrefix("2002::/16")
)

// embeddedIPv4 returns the IPv4 address a NAT64 (64:ff9b::/96, RFC 6052) or
// 6to4 (2002::/16, RFC 3056) address leads to, since a gateway will carry
// the connection there, and which kind of address it was.
func embeddedIPv4(ip netip.Addr) (netip.Addr, string, bool) {
	b := ip.As16()
	switch {
	case !ip.Is6():
		return netip.Addr{}, "", false
	case nat64Prefix.Contains(ip):
		return netip.AddrFrom4([4]byte(b[12:16])), "NAT64", true
	case sixToFour.Contains(ip):
		return netip.AddrFrom4([4]byte(b[2:6])), "6to4", true
	}
	return netip.Addr{}, "", false
}
