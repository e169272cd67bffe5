package board

import "strings"

// KernelArg returns the value of name=value on a kernel command line
// (/proc/cmdline) and whether name is there; a bare name has value "".
// The last occurrence wins, as for the kernel's own parameters.
func KernelArg(cmdline, name string) (value string, ok bool) {
	for _, f := range strings.Fields(cmdline) {
		k, v, _ := strings.Cut(f, "=")
		if k == name {
			value, ok = strings.Trim(v, `"`), true
		}
	}
	return value, ok
}
