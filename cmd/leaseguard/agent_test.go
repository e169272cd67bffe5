package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAgentConfigErrors: a configuration the agent cannot run exits with
// status 2 and one message naming the field, before any socket is opened.
func TestAgentConfigErrors(t *testing.T) {
	example, err := os.ReadFile("../../docs/agent.example.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, from, to, want string
	}{
		{"range", `"max_hops": 10`, `"max_hops": 20`, "relay.max_hops: 20 is outside 1-16"},
		{"unknown key", `"relay_id"`, `"relay_di"`, `unknown key "relay_di"`},
		{"relay limit", `"remote_id": "line-0042"`, `"remote_id": "line-0042", "subscriber_id": "` + strings.Repeat("s", 240) + `"`,
			"relay: ports[1] (dsl1/1): "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := strings.Replace(string(example), tt.from, tt.to, 1)
			if cfg == string(example) {
				t.Fatalf("edit %q not applied", tt.from)
			}
			path := filepath.Join(t.TempDir(), "agent.json")
			if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"agent", "--config", path}, &stdout, &stderr)
			if code != 2 || !strings.Contains(stderr.String(), tt.want) || strings.Count(stderr.String(), "\n") != 1 {
				t.Errorf("exit %d, stderr %q; want 2 and one line naming %q", code, stderr.String(), tt.want)
			}
		})
	}
}
