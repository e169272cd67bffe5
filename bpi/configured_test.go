package bpi

import (
	"encoding/hex"
	"encoding/json"
	"testing"
)

func TestConfiguredSAInstall(t *testing.T) {
	const cfg = `{"said": 7, "suite": 768,
		"older": {"seq": 15, "key": "e6600fd8852ef5abe6600fd8852ef5ab", "iv": "810e528e1c5fda1a810e528e1c5fda1a", "expires": "2026-01-01T12:00:00Z"},
		"newer": {"seq": 0, "key": "000102030405060708090a0b0c0d0e0f", "iv": "0f0e0d0c0b0a09080706050403020100", "expires": "2026-01-02T00:00:00Z"}}`
	var c ConfiguredSA
	if err := json.Unmarshal([]byte(cfg), &c); err != nil {
		t.Fatal(err)
	}
	tab := NewTable()
	if err := c.Install(tab); err != nil {
		t.Fatal(err)
	}
	sa, ok := tab.SA(7)
	if !ok || sa.Older.Seq != 15 || sa.Newer.Seq != 0 || sa.Older.Suite != SuiteAES128CBC {
		t.Fatalf("installed SA %+v", sa)
	}
	// The configured older key is the notes' AES vector key.
	b := unhex(t, "00010288ee597e")
	sa.Older.Encrypt(b)
	if got := hex.EncodeToString(b); got != "fc68a3556037dc" {
		t.Errorf("configured key encrypts to %s, want fc68a3556037dc", got)
	}
	for name, bad := range map[string]ConfiguredSA{
		"bad hex":       {SAID: 7, Suite: SuiteAES128CBC, Older: &ConfiguredTEK{Key: "zz", IV: "00"}},
		"short key":     {SAID: 7, Suite: SuiteAES128CBC, Older: &ConfiguredTEK{Key: "0011", IV: "00112233445566778899aabbccddeeff"}},
		"DES-40":        {SAID: 7, Suite: SuiteDES40CBC, Older: &ConfiguredTEK{Key: "0011223344556677", IV: "0011223344556677"}},
		"sequence 16":   {SAID: 7, Suite: SuiteDES56CBC, Older: &ConfiguredTEK{Seq: 16, Key: "0011223344556677", IV: "0011223344556677"}},
		"SAID too wide": {SAID: MaxSAID + 1, Suite: SuiteDES56CBC},
	} {
		if err := bad.Install(NewTable()); err == nil {
			t.Errorf("%s: installed", name)
		}
	}
}
