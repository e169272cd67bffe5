package nft

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// KernelOptions configure a Kernel applier.
type KernelOptions struct {
	// NetNS is a network namespace file descriptor; 0 means the current
	// namespace. The caller keeps the file open while the Kernel is used.
	NetNS int
	// WriteBuffer bounds the size of one transaction (a Rebuild carries
	// every element: about 56 bytes each); 0 means 64 MiB. Raising it
	// costs nothing until a large batch is sent.
	WriteBuffer int
	// ReadBuffer holds the kernel's acknowledgements; 0 means 8 MiB.
	ReadBuffer int
	// Clock measures programming latency; nil means time.Now.
	Clock func() time.Time
	// ForceUpsert renews elements with add-delete-add even when the kernel
	// updates timeouts on a plain add (for tests of the old-kernel path).
	ForceUpsert bool
}

// Kernel programs the ruleset into nf_tables over one lasting netlink
// connection, re-dialled after any failure (google/nftables v0.3.0 leaves a
// connection unusable after a failed Flush).
type Kernel struct {
	opts KernelOptions

	serial sync.Mutex // one Rebuild or Apply at a time, start to end
	mu     sync.Mutex // the fields below
	conn   *nftables.Conn
	rs     *Ruleset // of the last successful Rebuild
	ledger ledger   // what the allowed set holds
	prog   Programming
	// timeoutUpdate is whether re-adding an element replaces its
	// timeout; nil until probed.
	timeoutUpdate *bool
}

var _ Applier = (*Kernel)(nil)

// NewKernel returns an applier; it dials on first use.
func NewKernel(opts KernelOptions) *Kernel {
	opts.WriteBuffer = orDefault(opts.WriteBuffer, 64<<20)
	opts.ReadBuffer = orDefault(opts.ReadBuffer, 8<<20)
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	return &Kernel{opts: opts}
}

// Close releases the netlink connection. The programmed ruleset stays.
func (k *Kernel) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.hangUp()
}

// Rebuild implements Applier: one transaction adds the table (so the delete
// cannot fail on a fresh boot), deletes it with everything in it, and
// creates it anew with every element.
func (k *Kernel) Rebuild(cfg Config, elements []Element, now time.Time) error {
	k.serial.Lock()
	defer k.serial.Unlock()
	rs, err := Build(cfg)
	if err != nil {
		return err
	}
	elems, err := encodeElements(elements, now, rs.Config.MaxTimeout)
	if err != nil {
		return fmt.Errorf("nft rebuild: %v", err)
	}
	err = k.transact(true, len(elems), 0, func(c *nftables.Conn) error { return enqueueRuleset(c, rs, elems) })
	if err != nil {
		return fmt.Errorf("nft rebuild of table %s: %w", rs.Table.Name, err)
	}
	k.mu.Lock()
	k.rs, k.ledger = rs, newLedger(elems, now)
	k.mu.Unlock()
	return nil
}

// Apply implements Applier.
func (k *Kernel) Apply(adds, deletes []Element, now time.Time) error {
	k.serial.Lock()
	defer k.serial.Unlock()
	k.mu.Lock()
	rs := k.rs
	k.mu.Unlock()
	if rs == nil {
		return ErrNotBuilt
	}
	upsert, err := k.needUpsert(rs)
	if err != nil {
		return fmt.Errorf("nft apply: %w", err)
	}
	ops, err := planApply(adds, deletes, now, rs.Config.MaxTimeout, upsert)
	if err != nil {
		return fmt.Errorf("nft apply: %v", err)
	}
	var bops []elementOp
	if rs.IP != nil && rs.IP.Bound != nil {
		bops = planBound(adds, deletes, now, rs.Config.MaxTimeout, upsert)
	}
	if len(ops) == 0 && len(bops) == 0 {
		return nil
	}
	added, deleted := opSizes(ops)
	err = k.transact(false, added, deleted, func(c *nftables.Conn) error {
		for _, op := range ops {
			if err := enqueueOp(c, rs.Allowed, op); err != nil {
				return err
			}
		}
		for _, op := range bops {
			if err := enqueueOp(c, rs.IP.Bound, op); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("nft apply to %s: %w", rs.Table.Name, err)
	}
	k.mu.Lock()
	k.ledger.apply(adds, deletes, now, rs.Config.MaxTimeout)
	k.mu.Unlock()
	return nil
}

// needUpsert reports whether renewals need the add-delete-add upsert,
// probing the kernel on first use.
func (k *Kernel) needUpsert(rs *Ruleset) (bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.opts.ForceUpsert {
		return true, nil
	}
	if k.timeoutUpdate == nil {
		c, err := k.dial()
		if err != nil {
			return true, err
		}
		ok, err := probeTimeoutUpdate(c, rs.Table.Name)
		if err != nil {
			k.hangUp()
			return true, err
		}
		k.timeoutUpdate = &ok
	}
	return !*k.timeoutUpdate, nil
}

// opSizes counts the elements sent in add and in delete messages.
func opSizes(ops []elementOp) (added, deleted int) {
	for _, op := range ops {
		if op.del {
			deleted += len(op.elems)
		} else {
			added += len(op.elems)
		}
	}
	return added, deleted
}

func enqueueOp(c *nftables.Conn, s *nftables.Set, op elementOp) error {
	if op.del {
		return c.SetDeleteElements(s, op.elems)
	}
	return c.SetAddElements(s, op.elems)
}

// enqueueRuleset queues both tables: each is added (so the delete cannot
// fail on a fresh boot), deleted with everything in it, and created anew;
// an ip table no longer configured is only deleted.
func enqueueRuleset(c *nftables.Conn, rs *Ruleset, elems []nftables.SetElement) error {
	err := enqueueTable(c, rs.Table, rs.Counters, []setElements{
		{rs.Allowed, elems}, {rs.Unknown, nil}, {rs.Trusted, rs.TrustedElements}}, rs.Chains, rs.Rules)
	if err != nil {
		return err
	}
	if rs.IP == nil {
		ipt := &nftables.Table{Name: rs.Table.Name, Family: nftables.TableFamilyIPv4}
		c.AddTable(ipt)
		c.DelTable(ipt)
		return nil
	}
	var sets []setElements
	if rs.IP.Bound != nil {
		sets = []setElements{{rs.IP.Bound, boundElements(elems)}, {rs.IP.UnknownDst, nil}}
	}
	return enqueueTable(c, rs.IP.Table, rs.IP.Counters, sets, rs.IP.Chains, rs.IP.Rules)
}

type setElements struct {
	set   *nftables.Set
	elems []nftables.SetElement
}

// enqueueTable queues one table anew. All chains go before any rule so
// jumps find their targets.
func enqueueTable(c *nftables.Conn, t *nftables.Table, counters []*nftables.CounterObj, sets []setElements,
	chains []*nftables.Chain, rules []*nftables.Rule) error {
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)
	for _, o := range counters {
		c.AddObj(o)
	}
	for _, s := range sets {
		if err := c.AddSet(s.set, nil); err != nil {
			return fmt.Errorf("set %s: %v", s.set.Name, err)
		}
		for _, chunk := range chunks(s.elems, maxChunk) {
			if err := c.SetAddElements(s.set, chunk); err != nil {
				return fmt.Errorf("set %s elements: %v", s.set.Name, err)
			}
		}
	}
	for _, ch := range chains {
		c.AddChain(ch)
	}
	for _, r := range rules {
		c.AddRule(r)
	}
	return nil
}

// transact queues one transaction with enqueue and flushes it, re-dialling
// on the next call if anything failed.
func (k *Kernel) transact(rebuild bool, added, deleted int, enqueue func(*nftables.Conn) error) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	start := k.opts.Clock()
	err := k.flush(enqueue)
	k.prog.record(rebuild, k.opts.Clock().Sub(start), err)
	if err == nil {
		k.prog.ElementsAdded += uint64(added)
		k.prog.ElementsDeleted += uint64(deleted)
	}
	return err
}

func (k *Kernel) flush(enqueue func(*nftables.Conn) error) error {
	c, err := k.dial()
	if err != nil {
		return err
	}
	if err := enqueue(c); err != nil {
		// Messages already queued must not reach a later Flush.
		k.hangUp()
		return err
	}
	if err := c.Flush(); err != nil {
		k.hangUp()
		return err
	}
	return nil
}

func (k *Kernel) dial() (*nftables.Conn, error) {
	if k.conn != nil {
		return k.conn, nil
	}
	c, err := nftables.New(nftables.AsLasting(), nftables.WithNetNSFd(k.opts.NetNS),
		nftables.WithSockOptions(bufferSizes(k.opts.WriteBuffer, k.opts.ReadBuffer)))
	if err != nil {
		return nil, fmt.Errorf("dial nf_tables: %w", err)
	}
	k.conn = c
	return c, nil
}

func (k *Kernel) hangUp() error {
	if k.conn == nil {
		return nil
	}
	err := k.conn.CloseLasting()
	k.conn = nil
	return err
}

// bufferSizes raises the socket buffers past the rmem/wmem_max sysctls (as
// CAP_NET_ADMIN may); a batch larger than the send buffer fails with
// EMSGSIZE. Without the capability it falls back to the capped sizes.
func bufferSizes(write, read int) nftables.SockOption {
	return func(c *netlink.Conn) error {
		rc, err := c.SyscallConn()
		if err != nil {
			return err
		}
		var serr error
		err = rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, write)
			if serr == nil {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, read)
			}
		})
		if err != nil {
			return err
		}
		if errors.Is(serr, unix.EPERM) {
			return errors.Join(c.SetWriteBuffer(write), c.SetReadBuffer(read))
		}
		return serr
	}
}
