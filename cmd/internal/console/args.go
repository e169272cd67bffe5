package console

import (
	"net"
	"net/netip"
	"slices"
	"strings"
)

// Args is what a command line resolved to: the full words of the command
// ("show bindings ip") and the values of its choices and arguments by
// name. Getters return the zero value for a name that is absent or of
// another type.
type Args struct {
	words  []string
	values map[string]any
}

// NewArgs builds Args, for testing handlers without a console.
func NewArgs(words []string, values map[string]any) Args {
	return Args{words: slices.Clone(words), values: values}
}

// Command is the command's words in full, abbreviations expanded, with
// choices and without argument values: "show bindings ip".
func (a Args) Command() string { return strings.Join(a.words, " ") }

// Has reports whether the command contains the keyword, or the choice or
// argument named name.
func (a Args) Has(name string) bool {
	if _, ok := a.values[name]; ok {
		return true
	}
	return slices.Contains(a.words, name)
}

// String returns a choice's word or a FreeWord argument.
func (a Args) String(name string) string {
	s, _ := a.values[name].(string)
	return s
}

// Addr returns an IPv4Addr argument.
func (a Args) Addr(name string) netip.Addr {
	v, _ := a.values[name].(netip.Addr)
	return v
}

// MAC returns a MACAddr argument.
func (a Args) MAC(name string) net.HardwareAddr {
	v, _ := a.values[name].(net.HardwareAddr)
	return v
}

// Bytes returns a HexBytes argument.
func (a Args) Bytes(name string) []byte {
	v, _ := a.values[name].([]byte)
	return v
}

// Int returns an Integer argument.
func (a Args) Int(name string) int64 {
	v, _ := a.values[name].(int64)
	return v
}
