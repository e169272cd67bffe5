package ops

import (
	"net/netip"
	"reflect"
	"time"
)

// baseline is what the counters read when an operator cleared them:
// "clear counters" subtracts it from what the agent counts, as network
// equipment does, and leaves the agent's own counters (and the
// Prometheus metrics, which must only grow) untouched.
type baseline struct {
	at       time.Time
	counters Counters
	ports    map[string]Port
	servers  map[netip.Addr]Server
	drops    map[[2]string]NftDrop // by port and reason
	nft      Nft
}

// ClearCounters starts the counters shown by Counters, Ports, Servers,
// Nft and BPI from zero. Gauges (bindings, outstanding queries, windows) are not
// counters and stay.
func (o *Ops) ClearCounters(who string) error {
	b := baseline{at: o.now(), ports: map[string]Port{}, servers: map[netip.Addr]Server{}, drops: map[[2]string]NftDrop{}}
	o.baseMu.Lock()
	o.baseline = baseline{}
	o.baseMu.Unlock()
	// Read everything with an empty baseline, then install the readings.
	b.counters = o.Counters()
	if ports, err := o.Ports(); err == nil {
		for _, p := range ports {
			b.ports[p.Name] = p
		}
	}
	if servers, err := o.Servers(); err == nil {
		for _, s := range servers {
			b.servers[s.Server] = s
		}
	}
	if n, err := o.Nft(); err == nil {
		for _, d := range n.Drops {
			b.drops[[2]string{d.Port, d.Reason}] = d
		}
		b.nft = n
	}
	o.baseMu.Lock()
	o.baseline = b
	o.baseMu.Unlock()
	o.log.Info("counters cleared by operator", "by", who)
	return nil
}

// subtractNft takes the baseline from the ruleset's counters.
func (b *baseline) subtractNft(v *Nft) {
	for i := range v.Drops {
		if d, ok := b.drops[[2]string{v.Drops[i].Port, v.Drops[i].Reason}]; ok {
			subtract(&v.Drops[i], d)
		}
	}
	subtract(&v.Downstream, b.nft.Downstream)
	for i := range v.ForwardedDHCP {
		for _, f := range b.nft.ForwardedDHCP {
			if f.Interface == v.ForwardedDHCP[i].Interface {
				subtract(&v.ForwardedDHCP[i], f)
			}
		}
	}
}

// subtract takes base's counters (uint64 fields, and uint64 values of
// maps, at any depth of structs and non-nil pointers) from *cur. A counter that reads less than
// its baseline restarted (a subsystem rebuilt by a configuration apply) and
// is shown as it is.
func subtract[T any](cur *T, base T) {
	subtractValue(reflect.ValueOf(cur).Elem(), reflect.ValueOf(base))
}

func subtractValue(cur, base reflect.Value) {
	switch cur.Kind() {
	case reflect.Uint64:
		if c, b := cur.Uint(), base.Uint(); c >= b {
			cur.SetUint(c - b)
		}
	case reflect.Struct:
		for i := range cur.NumField() {
			if cur.Type().Field(i).IsExported() {
				subtractValue(cur.Field(i), base.Field(i))
			}
		}
	case reflect.Pointer:
		if !cur.IsNil() && !base.IsNil() {
			subtractValue(cur.Elem(), base.Elem())
		}
	case reflect.Map:
		if cur.Type().Elem().Kind() != reflect.Uint64 || cur.IsNil() {
			return
		}
		iter := cur.MapRange()
		for iter.Next() {
			b := base.MapIndex(iter.Key())
			if c := iter.Value().Uint(); b.IsValid() && c >= b.Uint() {
				cur.SetMapIndex(iter.Key(), reflect.ValueOf(c-b.Uint()).Convert(cur.Type().Elem()))
			}
		}
	}
}
