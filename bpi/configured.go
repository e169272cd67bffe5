package bpi

import (
	"encoding/hex"
	"fmt"
	"time"
)

// ConfiguredTEK is a TEK as an operator writes it in configuration, key
// and IV in hex.
type ConfiguredTEK struct {
	Seq     uint8     `json:"seq"`
	Key     string    `json:"key"`
	IV      string    `json:"iv"`
	Expires time.Time `json:"expires"`
}

// ConfiguredSA is the statically configured key material of one SA.
type ConfiguredSA struct {
	SAID  uint16         `json:"said"`
	Suite Suite          `json:"suite"` // wire code: 256 DES-56-CBC, 768 AES-128-CBC
	Older *ConfiguredTEK `json:"older,omitempty"`
	Newer *ConfiguredTEK `json:"newer,omitempty"`
}

// Install validates the configured keys and hands them to sink.
func (c ConfiguredSA) Install(sink KeySink) error {
	older, err := c.tek("older", c.Older)
	if err != nil {
		return err
	}
	newer, err := c.tek("newer", c.Newer)
	if err != nil {
		return err
	}
	return sink.SetTEKs(c.SAID, older, newer)
}

func (c ConfiguredSA) tek(which string, t *ConfiguredTEK) (*TEK, error) {
	if t == nil {
		return nil, nil
	}
	key, err := hex.DecodeString(t.Key)
	if err != nil {
		return nil, fmt.Errorf("SAID %d %s TEK: key: %w", c.SAID, which, err)
	}
	iv, err := hex.DecodeString(t.IV)
	if err != nil {
		return nil, fmt.Errorf("SAID %d %s TEK: IV: %w", c.SAID, which, err)
	}
	k, err := NewTEK(c.Suite, key, iv, t.Seq, t.Expires)
	if err != nil {
		return nil, fmt.Errorf("SAID %d %s %w", c.SAID, which, err)
	}
	return k, nil
}
