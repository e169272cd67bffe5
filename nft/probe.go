package nft

import (
	"fmt"
	"time"

	"github.com/google/nftables"
)

// probeTimeoutUpdate finds out whether adding an element that exists
// replaces its timeout (newer kernels do; 6.1 keeps the old one), in a
// throwaway table: add an element with a short timeout, add it again with a
// long one, read it back, delete the table. When updates work, Apply sends
// a renewal as one add instead of an add-delete-add upsert.
func probeTimeoutUpdate(c *nftables.Conn, owned string) (bool, error) {
	t := &nftables.Table{Name: owned + "-probe", Family: nftables.TableFamilyNetdev}
	s := &nftables.Set{Table: t, ID: 1, Name: "probe", KeyType: nftables.TypeMark, HasTimeout: true}
	key := []byte{0, 0, 0, 1}
	const short, long = 10 * time.Second, time.Hour
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)
	if err := c.AddSet(s, []nftables.SetElement{{Key: key, Timeout: short}}); err != nil {
		return false, err
	}
	if err := c.Flush(); err != nil {
		return false, fmt.Errorf("probe table: %w", err)
	}
	defer func() {
		c.DelTable(t)
		c.Flush()
	}()
	if err := c.SetAddElements(s, []nftables.SetElement{{Key: key, Timeout: long}}); err != nil {
		return false, err
	}
	if err := c.Flush(); err != nil {
		return false, fmt.Errorf("probe re-add: %w", err)
	}
	elems, err := c.GetSetElements(s)
	if err != nil {
		return false, fmt.Errorf("probe read-back: %w", err)
	}
	if len(elems) != 1 {
		return false, fmt.Errorf("probe read-back: %d elements, want 1", len(elems))
	}
	return elems[0].Timeout == long, nil
}
