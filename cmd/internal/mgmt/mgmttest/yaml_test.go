package mgmttest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseYAML(t *testing.T) {
	doc := `# comment
a: plain text
b: "quoted: \"x\"\n"
'c': 'it''s'
d:
  - one
  - name: two
    in: query
  -
    nested: true
e: [x, "y z", 3]
f: {}
g:
h: false
`
	got, err := ParseYAML([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"a": "plain text", "b": "quoted: \"x\"\n", "c": "it's",
		"d": []any{"one", map[string]any{"name": "two", "in": "query"}, map[string]any{"nested": true}},
		"e": []any{"x", "y z", "3"}, "f": map[string]any{}, "g": nil, "h": false,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parsed (-want +got):\n%s", diff)
	}
}

func TestParseYAMLRefusesWhatItDoesNotKnow(t *testing.T) {
	for _, doc := range []string{
		"a: b: c\n", "a: |\n  text\n", "a:\n  - x\n  y: z\n", "a: 1\na: 2\n", "a:\n\tb: 1\n",
		"a: [x, y\n", "a: \"open\n", "a: &anchor x\n", "- a\nb: c\n", "a: x #comment\n",
	} {
		if _, err := ParseYAML([]byte(doc)); err == nil {
			t.Errorf("%q parsed", doc)
		}
	}
}

func FuzzParseYAML(f *testing.F) {
	f.Add("a:\n  - b: c\n    d: [e, \"f\"]\n")
	f.Add("x: 'y'''\n")
	f.Add("- - a\n")
	f.Fuzz(func(t *testing.T, doc string) {
		_, _ = ParseYAML([]byte(doc))
	})
}
