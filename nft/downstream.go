package nft

import (
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Names in the ip-family table (same name as the netdev one).
const (
	BoundSet      = "bound4"      // ipv4_addr with a binding, per-element timeouts
	UnknownDstSet = "unknowndst4" // recently reported unknown destinations (dynamic)
	// DownstreamPrefix is the log prefix of unknown-destination reports.
	DownstreamPrefix = "dst"
)

// Counters of the ip table: unknown destinations dropped and reported
// (all ports together), and forwarded client DHCP dropped per port.
const (
	counterUnknownDst  = "unknown_destination"
	counterReportedDst = "reported_destination"
	counterFwdDHCP     = "forwarded_dhcp_" // + port
)

const (
	boundSetID = 1 + iota + trustedSetID
	unknownDstSetID
)

// IPRuleset is the ip-family table of a Ruleset: downstream verification
// before routing and the forwarded-DHCP drop.
type IPRuleset struct {
	Table *nftables.Table
	// Bound and UnknownDst are nil without Config.SubscriberNets.
	Bound      *nftables.Set
	UnknownDst *nftables.Set
	Counters   []*nftables.CounterObj
	Chains     []*nftables.Chain
	Rules      []*nftables.Rule
	// FwdDHCP maps a forwarded-DHCP counter's name to its port.
	FwdDHCP map[string]string
}

// buildIP returns the ip table of cfg (validated), or nil when cfg needs
// none.
//
//	table ip leaseguard {
//	  set bound4 { type ipv4_addr; flags timeout; }
//	  set unknowndst4 { type ipv4_addr; size S; flags dynamic,timeout; timeout T; }
//	  chain dst_pre { type filter hook prerouting priority raw; ip daddr NET jump dst_check ... }
//	  chain dst_out { type filter hook output priority raw; ip daddr NET jump dst_check ... }
//	  chain dst_check { ... see downRules }
//	  chain fwd_dhcp { type filter hook forward priority filter;
//	    iifname PORT udp sport 68 udp dport 67 counter name "forwarded_dhcp_PORT" drop ... }
//	}
//
// Prerouting at raw priority sees a packet before conntrack and routing:
// a dropped one leaves no conntrack entry and never reaches neighbour
// resolution, so the card sends no ARP request down a port for it. The
// output chain does the same for the card's own traffic.
func buildIP(cfg Config) *IPRuleset {
	if !cfg.hasIPTable() {
		return nil
	}
	t := &nftables.Table{Name: cfg.Table, Family: nftables.TableFamilyIPv4}
	it := &IPRuleset{Table: t, FwdDHCP: map[string]string{}}
	if len(cfg.SubscriberNets) > 0 {
		it.addDownstream(cfg)
	}
	if cfg.DropForwardedDHCP {
		it.addForwardDrop(cfg)
	}
	return it
}

func (it *IPRuleset) addRules(c *nftables.Chain, rules ...[]expr.Any) {
	for _, exprs := range rules {
		it.Rules = append(it.Rules, &nftables.Rule{Table: it.Table, Chain: c, Exprs: exprs})
	}
}

func (it *IPRuleset) counter(name string) {
	it.Counters = append(it.Counters, &nftables.CounterObj{Table: it.Table, Name: name})
}

// addDownstream adds the prerouting and output hooks and the down chain.
func (it *IPRuleset) addDownstream(cfg Config) {
	t := it.Table
	it.Bound = &nftables.Set{Table: t, ID: boundSetID, Name: BoundSet, KeyType: nftables.TypeIPAddr, HasTimeout: true}
	it.UnknownDst = &nftables.Set{Table: t, ID: unknownDstSetID, Name: UnknownDstSet, KeyType: nftables.TypeIPAddr,
		HasTimeout: true, Dynamic: true, Timeout: cfg.UnknownTimeout, Size: cfg.UnknownSize}
	it.counter(counterUnknownDst)
	it.counter(counterReportedDst)
	accept := nftables.ChainPolicyAccept
	down := &nftables.Chain{Name: "dst_check", Table: it.Table}
	hooks := []*nftables.Chain{
		{Name: "dst_pre", Table: it.Table, Type: nftables.ChainTypeFilter, Hooknum: nftables.ChainHookPrerouting,
			Priority: nftables.ChainPriorityRaw, Policy: &accept},
		{Name: "dst_out", Table: it.Table, Type: nftables.ChainTypeFilter, Hooknum: nftables.ChainHookOutput,
			Priority: nftables.ChainPriorityRaw, Policy: &accept},
	}
	it.Chains = append(it.Chains, down)
	for _, h := range hooks {
		it.Chains = append(it.Chains, h)
		for _, n := range cfg.SubscriberNets {
			it.addRules(h, cat(destinationIn(n), jump(down)))
		}
	}
	it.addRules(down, it.downRules(cfg)...)
}

// downRules check a destination in a subscriber net:
//
//	ip daddr @bound4 accept
//	fib daddr type local accept
//	fib daddr type broadcast accept
//	ip daddr @unknowndst4 counter name "unknown_destination" drop
//	limit rate R/second burst B packets add @unknowndst4 { ip daddr } counter name "reported_destination" log prefix "dst" group G
//	counter name "unknown_destination" drop
//
// The card's own addresses (gateways) and the nets' broadcast addresses
// are not subscribers. One limit covers every port: the global cap on
// queries about unknown destinations.
func (it *IPRuleset) downRules(cfg Config) [][]expr.Any {
	daddr := []expr.Any{&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4}}
	return [][]expr.Any{
		cat(daddr, lookup(it.Bound), verdict(expr.VerdictAccept)),
		cat(addrType(unix.RTN_LOCAL), verdict(expr.VerdictAccept)),
		cat(addrType(unix.RTN_BROADCAST), verdict(expr.VerdictAccept)),
		cat(daddr, lookup(it.UnknownDst), countNamed(counterUnknownDst), verdict(expr.VerdictDrop)),
		cat([]expr.Any{&expr.Limit{Type: expr.LimitTypePkts, Rate: uint64(cfg.DownstreamRate), Unit: expr.LimitTimeSecond,
			Burst: cfg.DownstreamBurst}}, daddr, []expr.Any{
			&expr.Dynset{SrcRegKey: 1, SetName: it.UnknownDst.Name, SetID: it.UnknownDst.ID, Operation: unix.NFT_DYNSET_OP_ADD},
			countNamed(counterReportedDst)[0],
			&expr.Log{Key: 1<<unix.NFTA_LOG_GROUP | 1<<unix.NFTA_LOG_PREFIX, Group: cfg.NFLogGroup, Data: []byte(DownstreamPrefix)},
		}),
		cat(countNamed(counterUnknownDst), verdict(expr.VerdictDrop)),
	}
}

// addForwardDrop adds the forward hook dropping client DHCP from each port.
func (it *IPRuleset) addForwardDrop(cfg Config) {
	accept := nftables.ChainPolicyAccept
	fwd := &nftables.Chain{Name: "fwd_dhcp", Table: it.Table, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept}
	it.Chains = append(it.Chains, fwd)
	for _, p := range cfg.Ports {
		name := counterFwdDHCP + p.Name
		it.counter(name)
		it.FwdDHCP[name] = p.Name
		it.addRules(fwd, cat(ifnameIs(p.Name), clientDHCP(), countNamed(name), verdict(expr.VerdictDrop)))
	}
}

// destinationIn matches ip daddr in n.
func destinationIn(n netip.Prefix) []expr.Any {
	m := ^uint32(0) << (32 - n.Bits()) // a shift by 32 gives 0 (/0)
	a := n.Addr().As4()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.BigEndian.PutUint32(m), Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a[:]},
	}
}

// addrType matches fib daddr type t.
func addrType(t uint32) []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(t)},
	}
}

// ifnameIs matches iifname.
func ifnameIs(name string) []expr.Any {
	b := make([]byte, 16)
	copy(b, name)
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: b},
	}
}

// clientDHCP matches udp sport 68 udp dport 67.
func clientDHCP() []expr.Any {
	return cat([]expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_UDP}},
	}, payloadIs(expr.PayloadBaseTransportHeader, 0, []byte{0, 68, 0, 67}))
}

func countNamed(name string) []expr.Any {
	return []expr.Any{&expr.Objref{Type: unix.NFT_OBJECT_COUNTER, Name: name}}
}
