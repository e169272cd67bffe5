package nft

import (
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Names of the sets in the owned table.
const (
	AllowedSet = "allowed4" // ifname . ipv4_addr . ether_addr, per-element timeouts
	UnknownSet = "unknown4" // recently reported unknown sources (dynamic)
	TrustedSet = "trusted"  // ether_addr exempt from verification
)

// Reason says why a packet was dropped; each (port, reason) has a named
// counter.
type Reason string

// Drop reasons, plus Reported, which counts unknown sources reported to the
// NFLOG group (those packets are also counted under their drop reason).
const (
	ReasonIPv4Source      Reason = "ipv4_source"      // IPv4 from an unbound (IP, MAC) on this port
	ReasonIPv4Unspecified Reason = "ipv4_unspecified" // source 0.0.0.0 outside DHCP to the relay
	ReasonARPSource       Reason = "arp_source"       // ARP whose sender is not bound here
	ReasonIPv6            Reason = "ipv6"             // IPv6 while AllowIPv6 is off
	ReasonOther           Reason = "other"            // any other ethertype
	Reported              Reason = "reported"
)

// Reasons lists every counter kind kept per port.
var Reasons = []Reason{ReasonIPv4Source, ReasonIPv4Unspecified, ReasonARPSource, ReasonIPv6, ReasonOther, Reported}

// CounterID names the port and reason a named counter belongs to.
type CounterID struct {
	Port   string
	Reason Reason
}

// Ruleset is the owned table as google/nftables objects, ready to program.
// It holds no elements of the allowed set; those come from Elements.
type Ruleset struct {
	Config   Config // validated
	Table    *nftables.Table
	Allowed  *nftables.Set
	Unknown  *nftables.Set
	Trusted  *nftables.Set
	Counters []*nftables.CounterObj
	// CounterIDs maps a counter name to its port and reason.
	CounterIDs map[string]CounterID
	Chains     []*nftables.Chain
	Rules      []*nftables.Rule
	// TrustedElements are the trusted set's elements.
	TrustedElements []nftables.SetElement
	// IP is the ip-family table of the same name, nil unless
	// Config.SubscriberNets or Config.DropForwardedDHCP ask for it. Its
	// bound set holds the addresses of the allowed set's elements.
	IP *IPRuleset
}

// Set IDs only need to be unique inside one batch; Rebuild creates all sets
// in one batch, so fixed IDs do.
const (
	allowedSetID = 1 + iota
	unknownSetID
	trustedSetID
)

// Build returns the ruleset for cfg. It does no I/O.
func Build(cfg Config) (*Ruleset, error) {
	cfg, err := cfg.Validate()
	if err != nil {
		return nil, err
	}
	t := &nftables.Table{Name: cfg.Table, Family: nftables.TableFamilyNetdev}
	key := nftables.MustConcatSetType(nftables.TypeIFName, nftables.TypeIPAddr, nftables.TypeEtherAddr)
	rs := &Ruleset{
		Config: cfg,
		Table:  t,
		Allowed: &nftables.Set{Table: t, ID: allowedSetID, Name: AllowedSet, KeyType: key,
			Concatenation: true, HasTimeout: true},
		Unknown: &nftables.Set{Table: t, ID: unknownSetID, Name: UnknownSet, KeyType: key,
			Concatenation: true, HasTimeout: true, Dynamic: true, Timeout: cfg.UnknownTimeout, Size: cfg.UnknownSize},
		Trusted:         &nftables.Set{Table: t, ID: trustedSetID, Name: TrustedSet, KeyType: nftables.TypeEtherAddr},
		CounterIDs:      make(map[string]CounterID),
		TrustedElements: macKeys(cfg.TrustedMACs),
	}
	for _, p := range cfg.Ports {
		rs.addPort(p)
	}
	rs.IP = buildIP(cfg)
	return rs, nil
}

// CounterName is the named counter of reason on port.
func CounterName(port string, reason Reason) string {
	return fmt.Sprintf("%s_%s", reason, port)
}

// portChains names the chains of one port.
type portChains struct {
	in, v4, arp *nftables.Chain
}

// addPort adds the counters, chains and rules of one port.
func (rs *Ruleset) addPort(p Port) {
	for _, r := range Reasons {
		name := CounterName(p.Name, r)
		rs.Counters = append(rs.Counters, &nftables.CounterObj{Table: rs.Table, Name: name})
		rs.CounterIDs[name] = CounterID{Port: p.Name, Reason: r}
	}
	drop := nftables.ChainPolicyDrop
	c := portChains{
		// google/nftables v0.3.0 chains carry one device, so each port
		// has its own base chain (and, for per-port counters, its own
		// regular chains).
		in: &nftables.Chain{Name: "in_" + p.Name, Table: rs.Table, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookIngress, Priority: nftables.ChainPriorityRef(nftables.ChainPriority(rs.Config.Priority)),
			Policy: &drop, Device: p.Name},
		v4:  &nftables.Chain{Name: "v4_" + p.Name, Table: rs.Table},
		arp: &nftables.Chain{Name: "arp_" + p.Name, Table: rs.Table},
	}
	rs.Chains = append(rs.Chains, c.in, c.v4, c.arp)
	rs.addRules(c.in, rs.ingressRules(p, c))
	rs.addRules(c.v4, rs.ipv4Rules(p))
	rs.addRules(c.arp, rs.arpRules(p))
}

func (rs *Ruleset) addRules(c *nftables.Chain, rules [][]expr.Any) {
	for _, exprs := range rules {
		rs.Rules = append(rs.Rules, &nftables.Rule{Table: rs.Table, Chain: c, Exprs: exprs})
	}
}

// ingressRules dispatch by ethertype:
//
//	ether saddr @trusted accept
//	meta protocol ip jump v4_PORT
//	meta protocol arp jump arp_PORT
//	meta protocol ip6 accept | counter name "ipv6_PORT" drop
//	counter name "other_PORT" drop
func (rs *Ruleset) ingressRules(p Port, c portChains) [][]expr.Any {
	ipv6 := cat(protocolIs(ethIPv6), verdict(expr.VerdictAccept))
	if !rs.Config.AllowIPv6 {
		ipv6 = cat(protocolIs(ethIPv6), count(p, ReasonIPv6), verdict(expr.VerdictDrop))
	}
	return [][]expr.Any{
		cat(iifTypeEther(), []expr.Any{etherSource()}, lookup(rs.Trusted), verdict(expr.VerdictAccept)),
		cat(protocolIs(ethIPv4), jump(c.v4)),
		cat(protocolIs(ethARP), jump(c.arp)),
		ipv6,
		cat(count(p, ReasonOther), verdict(expr.VerdictDrop)),
	}
}

// ipv4Rules verify IPv4 sources:
//
//	iifname . ip saddr . ether saddr @allowed4 accept
//	ip daddr 255.255.255.255 udp sport 68 udp dport 67 accept
//	ip daddr RELAY udp sport 68 udp dport 67 accept
//	ip saddr 0.0.0.0 counter name "ipv4_unspecified_PORT" drop
//	iifname . ip saddr . ether saddr @unknown4 counter name "ipv4_source_PORT" drop
//	limit rate R/second burst B packets add @unknown4 { iifname . ip saddr . ether saddr } counter name "reported_PORT" log prefix "PORT" group G
//	counter name "ipv4_source_PORT" drop
//
// DHCP is accepted only towards the broadcast address and the relay's own
// address: a client-port packet aimed at an upstream server would otherwise
// be routed there with a spoofed source.
func (rs *Ruleset) ipv4Rules(p Port) [][]expr.Any {
	ipKey := cat(protocolIs(ethIPv4), iifTypeEther(), allowedKey(ipv4Source(), etherSource()))
	rules := [][]expr.Any{
		cat(ipKey, lookup(rs.Allowed), verdict(expr.VerdictAccept)),
		cat(protocolIs(ethIPv4), dhcpToServer([]byte{255, 255, 255, 255}), verdict(expr.VerdictAccept)),
	}
	if p.RelayAddr.IsValid() {
		a := p.RelayAddr.Unmap().As4()
		rules = append(rules, cat(protocolIs(ethIPv4), dhcpToServer(a[:]), verdict(expr.VerdictAccept)))
	}
	return append(rules,
		cat(protocolIs(ethIPv4), payloadIs(expr.PayloadBaseNetworkHeader, 12, []byte{0, 0, 0, 0}),
			count(p, ReasonIPv4Unspecified), verdict(expr.VerdictDrop)),
		cat(ipKey, lookup(rs.Unknown), count(p, ReasonIPv4Source), verdict(expr.VerdictDrop)),
		cat(rs.limit(), ipKey, rs.report(p)),
		cat(count(p, ReasonIPv4Source), verdict(expr.VerdictDrop)),
	)
}

// arpRules verify ARP senders:
//
//	iifname . arp saddr ip . ether saddr @allowed4 iifname . arp saddr ip . arp saddr ether @allowed4 accept
//	arp operation request arp saddr ip 0.0.0.0 accept
//	iifname . arp saddr ip . ether saddr @unknown4 counter name "arp_source_PORT" drop
//	limit rate R/second burst B packets add @unknown4 { iifname . arp saddr ip . ether saddr } counter name "reported_PORT" log prefix "PORT" group G
//	counter name "arp_source_PORT" drop
//
// The two lookups make the sender IP, the sender MAC and the Ethernet source
// all agree with one binding. ARP probes (sender IP 0.0.0.0, RFC 5227
// §2.1.1) pass unbound: DHCP clients send them for the address just offered,
// before leaseguard has programmed the binding, to detect a conflict; a probe
// claims no address, and receivers must not update their caches from it, so
// it cannot poison the card's neighbour table. Dropping probes would make a
// client's conflict detection report "free" for an address in use.
// Unknown ARP senders are reported like IPv4 ones: after a line card reboot a
// subscriber's first packet is usually an ARP request for its gateway.
func (rs *Ruleset) arpRules(p Port) [][]expr.Any {
	arpKey := cat(protocolIs(ethARP), iifTypeEther(), allowedKey(arpSenderIP(), etherSource()))
	return [][]expr.Any{
		cat(arpKey, lookup(rs.Allowed), allowedKey(arpSenderIP(), arpSenderMAC()), lookup(rs.Allowed), verdict(expr.VerdictAccept)),
		cat(protocolIs(ethARP), payloadIs(expr.PayloadBaseNetworkHeader, 6, []byte{0, 1}),
			payloadIs(expr.PayloadBaseNetworkHeader, 14, []byte{0, 0, 0, 0}), verdict(expr.VerdictAccept)),
		cat(arpKey, lookup(rs.Unknown), count(p, ReasonARPSource), verdict(expr.VerdictDrop)),
		cat(rs.limit(), arpKey, rs.report(p)),
		cat(count(p, ReasonARPSource), verdict(expr.VerdictDrop)),
	}
}

// limit rate-limits reports per port.
func (rs *Ruleset) limit() []expr.Any {
	return []expr.Any{&expr.Limit{Type: expr.LimitTypePkts, Rate: uint64(rs.Config.UnknownRate),
		Unit: expr.LimitTimeSecond, Burst: rs.Config.UnknownBurst}}
}

// report adds the key in register 1 to the unknown set, then counts and logs
// the packet. The lookup rule before it keeps known sources from getting
// here; dynset breaks the rule when the set is full, so a full set stops
// reports instead of flooding the agent.
func (rs *Ruleset) report(p Port) []expr.Any {
	return []expr.Any{
		&expr.Dynset{SrcRegKey: 1, SetName: rs.Unknown.Name, SetID: rs.Unknown.ID, Operation: unix.NFT_DYNSET_OP_ADD},
		count(p, Reported)[0],
		&expr.Log{Key: 1<<unix.NFTA_LOG_GROUP | 1<<unix.NFTA_LOG_PREFIX, Group: rs.Config.NFLogGroup, Data: []byte(p.Name)},
	}
}
