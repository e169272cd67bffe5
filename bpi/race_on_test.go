//go:build race

package bpi

// raceEnabled: the race detector's sync.Pool drops a share of what is put
// back on purpose, so allocation counts of pooled paths mean nothing.
const raceEnabled = true
