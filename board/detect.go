package board

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// Machine is what the kernel says about the hardware, as read from the
// files Detect looks at. ReadMachine fills it; tests write it directly.
type Machine struct {
	// DTModel is the device-tree model (arm, arm64, most embedded MIPS).
	DTModel string
	// CPUInfo is /proc/cpuinfo; MIPS kernels name the board in its
	// "system type" line (Malta has no device tree).
	CPUInfo string
}

// Model returns the string that identifies the machine: the device-tree
// model when there is one, else the cpuinfo "system type".
func (m Machine) Model() string {
	// Device-tree strings end in NUL.
	if dt := strings.TrimSpace(strings.TrimRight(m.DTModel, "\x00")); dt != "" {
		return dt
	}
	return cpuinfoField(m.CPUInfo, "system type")
}

// cpuinfoField returns the value of the first "key : value" line of a
// /proc/cpuinfo text whose key is key.
func cpuinfoField(cpuinfo, key string) string {
	sc := bufio.NewScanner(strings.NewReader(cpuinfo))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// ErrNoMatch is returned by Detect when no profile claims the machine.
var ErrNoMatch = errors.New("no board profile matches this machine")

// Detect returns the profile whose Models contain the machine's model.
// Two profiles claiming the same model is an error: a guess would be worse
// than asking for --board.
func Detect(profiles []Profile, m Machine) (Profile, error) {
	model := m.Model()
	if model == "" {
		return Profile{}, fmt.Errorf("%w: the kernel names no model (no device-tree model, no cpuinfo system type)", ErrNoMatch)
	}
	var found []Profile
	for _, p := range profiles {
		for _, want := range p.Models {
			if want == model {
				found = append(found, p)
				break
			}
		}
	}
	switch len(found) {
	case 0:
		return Profile{}, fmt.Errorf("%w: model %q", ErrNoMatch, model)
	case 1:
		return found[0], nil
	default:
		return Profile{}, fmt.Errorf("model %q is claimed by profiles %s and %s: choose with --board", model, found[0].Name, found[1].Name)
	}
}

// ReadMachine reads the files Detect needs from a root file system
// (os.DirFS("/") on the target). Missing files are not errors: most
// machines have only one of them.
func ReadMachine(root fs.FS) (Machine, error) {
	var m Machine
	for _, name := range []string{"proc/device-tree/model", "sys/firmware/devicetree/base/model"} {
		b, err := fs.ReadFile(root, name)
		if err == nil {
			m.DTModel = string(b)
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return Machine{}, fmt.Errorf("read /%s: %w", name, err)
		}
	}
	b, err := fs.ReadFile(root, "proc/cpuinfo")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Machine{}, fmt.Errorf("read /proc/cpuinfo: %w", err)
	}
	m.CPUInfo = string(b)
	return m, nil
}
