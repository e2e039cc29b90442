// Package egress decides which addresses jobs that make network calls (the
// http job) may connect to. By default only public addresses: a job runs
// with the agent's network position, so without a policy anyone who may
// save a rule could reach the cloud metadata service (169.254.169.254,
// fd00:ec2::254), the agent's own loopback services and the private
// network behind it.
//
// # What is refused
//
// Unless the policy allows them, connections to these are refused:
// unspecified (0.0.0.0/8, ::), loopback (127.0.0.0/8, ::1), link-local
// (169.254.0.0/16, fe80::/10) including the metadata services, private
// (10/8, 172.16/12, 192.168/16, IPv6 unique local fc00::/7), shared address
// space (CGNAT, 100.64.0.0/10), multicast, broadcast, and the reserved,
// documentation and benchmarking ranges. An IPv4-mapped IPv6 address
// (::ffff:127.0.0.1) is judged as the IPv4 address it is, and an IPv4
// address embedded in a NAT64 (64:ff9b::/96) or 6to4 (2002::/16) address is
// judged as well.
//
// # The allow list
//
// An admin opens the policy with a comma-separated list (the agent's
// JOBBRIDGE_HTTP_ALLOW setting), parsed by Parse. Each entry is one of:
//
//   - a CIDR, "10.0.0.0/8" or "fd12:3456::/48": every address in it;
//   - an address, "127.0.0.1" or "::1": that address alone;
//   - a host name, "internal.example.com": that name exactly, whatever it
//     resolves to;
//   - a wildcard, "*.svc.cluster.local": every name that ends in
//     ".svc.cluster.local" with at least one more label ("a.svc.cluster.local",
//     "a.b.svc.cluster.local"), not "svc.cluster.local" itself; list both to
//     allow both.
//
// Host names match case-insensitively and ignore a final dot. They match the
// name the job was asked to call, never a literal address. There are no
// ports: the policy is by address and name only.
//
// # Where it is enforced
//
// Check is the one decision. The dialer (DialContext, and the Transport and
// Client built on it) calls it from net.Dialer's Control hook, which sees
// each address actually being connected after name resolution, so a name
// that resolves to one address when checked and another when connected (DNS
// rebinding) cannot slip through. Redirects are re-checked before they are
// followed (CheckRedirect) and again when they dial.
//
// The Transport never uses a proxy, not even one named in HTTP_PROXY or
// HTTPS_PROXY: the connection would then go to the proxy, which the policy
// would judge instead of the real destination.
package egress
