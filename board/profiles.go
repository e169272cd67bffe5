package board

import (
	"embed"
	"fmt"
	"path"
	"sort"
	"strings"
)

// builtinFiles are the profiles shipped in the binary, one JSON file each,
// named after the profile.
//
//go:embed profiles/*.json
var builtinFiles embed.FS

// Builtin returns the profiles shipped in the binary, sorted by name.
func Builtin() ([]Profile, error) {
	entries, err := builtinFiles.ReadDir("profiles")
	if err != nil {
		return nil, err
	}
	var out []Profile
	for _, e := range entries {
		file := path.Join("profiles", e.Name())
		b, err := builtinFiles.ReadFile(file)
		if err != nil {
			return nil, err
		}
		p, err := ParseProfile(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if want := strings.TrimSuffix(e.Name(), ".json"); p.Name != want {
			return nil, fmt.Errorf("%s: profile is named %q, want %q", file, p.Name, want)
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Lookup returns the profile called name from profiles.
func Lookup(profiles []Profile, name string) (Profile, error) {
	var names []string
	for _, p := range profiles {
		if p.Name == name {
			return p, nil
		}
		names = append(names, p.Name)
	}
	return Profile{}, fmt.Errorf("no board profile %q (have: %s)", name, strings.Join(names, ", "))
}
