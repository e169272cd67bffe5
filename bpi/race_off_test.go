//go:build !race

package bpi

const raceEnabled = false
