package console

import (
	"bytes"
	"context"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func newFakeConsole(t *testing.T, cfg Config, setup fakeSetup) (*Console, *calls) {
	t.Helper()
	rec := newCalls()
	con, err := New(cfg, fakeTree(rec, setup))
	if err != nil {
		t.Fatal(err)
	}
	return con, rec
}

func TestResolve(t *testing.T) {
	con, _ := newFakeConsole(t, Config{}, fakeSetup{})
	tests := []struct {
		line string
		want string // the command and its values, or the error and caret offset
	}{
		{"show bindings", "show bindings"},
		{"sh bi", "show bindings"},
		{"SH BI", "show bindings"},
		{"  sh   bi  ", "show bindings"},
		{"sh bi 10.0.0.1", "show binding addr=10.0.0.1"},
		{"sh bi ip 10.0.0.1", "show bindings ip ip=10.0.0.1"},
		{"sh bi po 1/0/3", "show bindings port port=1/0/3"},
		{"sh bi mac aabb.ccdd.eeff", "show bindings mac mac=aa:bb:cc:dd:ee:ff"},
		{"sh bi mo 00-11-22-33-44-55", "show bindings modem modem=00:11:22:33:44:55"},
		{"show binding", `error@-1 Incomplete command: "show binding" needs A.B.C.D`},
		{"show binding 10.0.0.1", "show binding addr=10.0.0.1"},
		{"le cl 01:aa:bb", "leasequery client-id id=[1 170 187]"},
		{"le cl 01aabb", "leasequery client-id id=[1 170 187]"},
		{"le c 01aabb", "leasequery client-id id=[1 170 187]"},
		{"deb rel on", "debug relay on state=on what=relay"},
		{"deb g of", "debug glean off state=off what=glean"},
		{"cl co", "clear counters"},
		{"te len 0", "terminal length rows=0"},
		{"s", `error@0 Ambiguous command: "s" (set, show)`},
		{"sh bi foo", `error@3 Ambiguous command: "bi" (binding, bindings)`},
		{"sh bi ip 1.2.3.300", `error@9 Invalid input: "1.2.3.300" is not an IPv4 address`},
		{"sh co", `error@3 Ambiguous command: "co" (config, counters)`},
		{"shw bindings", `error@0 Unknown command: "shw"`},
		{"show bindingz", `error@5 Invalid input: "bindingz"; expected one of: binding, bindings, config, counters, flood, nft, ports, servers, slow`},
		{"show bindings ip", `error@-1 Incomplete command: "show bindings ip" needs A.B.C.D`},
		{"show bindings ip 10.0.0.1 extra", `error@26 Invalid input: "extra"; expected <cr>`},
		{"le client-id 0", `error@13 Invalid input: "0" is not an even number of hex digits`},
		{"te len 513", `error@7 Invalid input: "513" is not a number from 0 to 512`},
		{"debug", `error@-1 Incomplete command: "debug" needs one of: glean, lq, nft, relay`},
		{"debug relay maybe", `error@12 Invalid input: "maybe"; expected one of: off, on`},
		{"set 3", "set value=3"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			args, node, err := resolve(con.root, tt.line)
			var got string
			if err != nil {
				got = "error@" + strconv.Itoa(err.pos) + " " + err.msg
			} else {
				rec := newCalls()
				rec.add(args)
				got = rec.list[0]
				if !node.runnable() {
					t.Errorf("resolved to a node that cannot run")
				}
			}
			if got != tt.want {
				t.Errorf("resolve(%q)\n got %s\nwant %s", tt.line, got, tt.want)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	con, _ := newFakeConsole(t, Config{}, fakeSetup{})
	names := func(items []helpItem) []string {
		var n []string
		for _, it := range items {
			n = append(n, it.name)
		}
		return n
	}
	tests := []struct {
		text string
		want []string
	}{
		{"", []string{"clear", "crash", "debug", "exit", "help", "leasequery", "set", "show", "terminal"}},
		{"s", []string{"set", "show"}},
		{"sh b", []string{"binding", "bindings"}},
		{"show bindings ", []string{"ip", "mac", "modem", "port", "<cr>"}},
		{"sh bi ", []string{"ip", "mac", "modem", "port", "A.B.C.D", "<cr>"}}, // both readings of "bi"
		{"show binding ", []string{"A.B.C.D"}},
		{"show binding 10.0", nil}, // not (yet) an address
		{"show binding 10.0.0.1", []string{"A.B.C.D"}},
		{"show binding 10.0.0.1 ", []string{"<cr>"}},
		{"clear counters", []string{"counters"}},
		{"debug relay ", []string{"off", "on"}},
		{"te le ", []string{"<0-512>"}},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			items, err := help(con.root, tt.text)
			if tt.want == nil {
				if err == nil {
					t.Fatalf("help(%q) = %v, want an error", tt.text, names(items))
				}
				return
			}
			if err != nil {
				t.Fatalf("help(%q): %v", tt.text, err)
			}
			if diff := cmp.Diff(tt.want, names(items)); diff != "" {
				t.Errorf("help(%q) (-want +got):\n%s", tt.text, diff)
			}
		})
	}
	if _, err := help(con.root, "shw "); err == nil || err.pos != 0 || !strings.Contains(err.msg, `Unknown command: "shw"`) {
		t.Errorf(`help("shw ") error = %v, want unknown command at 0`, err)
	}
}

func TestComplete(t *testing.T) {
	con, _ := newFakeConsole(t, Config{}, fakeSetup{})
	type result struct {
		Word      string
		Whole, OK bool
	}
	tests := []struct {
		text string
		want result
	}{
		{"sh", result{"show", true, true}},
		{"SH", result{"show", true, true}},
		{"show co", result{"co", false, false}}, // config, counters: nothing to add
		{"show cou", result{"counters", true, true}},
		{"show b", result{"binding", false, true}},      // common prefix of binding, bindings
		{"show binding", result{"binding", true, true}}, // exact word wins
		{"show bindings i", result{"ip", true, true}},
		{"deb r", result{"relay", true, true}},
		{"deb relay o", result{"o", false, false}},
		{"show ", result{}},
		{"", result{}},
		{"shw b", result{}},
		{"show binding 10", result{}}, // arguments do not complete
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			var got result
			got.Word, got.Whole, got.OK = complete(con.root, tt.text)
			if !got.OK {
				got.Word, got.Whole = "", false
			}
			if !tt.want.OK {
				tt.want = result{}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("complete(%q) (-want +got):\n%s", tt.text, diff)
			}
		})
	}
}

func TestTreeRegistrationErrors(t *testing.T) {
	h := func(context.Context, Args, io.Writer) error { return nil }
	tests := []struct {
		name  string
		build func(t *Tree)
		want  string
	}{
		{"bad word", func(t *Tree) { t.Word("Show", "").Handle(h) }, `"Show" is not a valid command word`},
		{"space in word", func(t *Tree) { t.Word("show all", "").Handle(h) }, "not a valid command word"},
		{"dead end", func(t *Tree) { t.Word("show", "").Word("x", "") }, "show x: neither a handler nor sub-commands"},
		{"two handlers", func(t *Tree) { t.Word("a", "").Handle(h).Handle(h) }, "a: handler registered twice"},
		{"nil handler", func(t *Tree) { t.Word("a", "").Handle(nil) }, "nil handler"},
		{"choice clash", func(t *Tree) {
			n := t.Word("debug", "")
			n.Word("on", "").Handle(h)
			n.Choice("state", Keyword{"on", ""}).Handle(h)
		}, `word "on" registered twice`},
		{"built-in", func(t *Tree) { t.Word("exit", "").Handle(h) }, `"exit" is a console built-in`},
		{"empty choice", func(t *Tree) { t.Word("a", "").Choice("x").Handle(h) }, `choice "x" has no words`},
		{"arg twice", func(t *Tree) {
			a := t.Word("a", "")
			a.Arg("v", FreeWord, "").Handle(h)
			a.Arg("v", IPv4Addr, "").Handle(h)
		}, `argument "v" registered twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree := NewTree()
			tt.build(tree)
			_, err := New(Config{}, tree)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New error = %v, want one containing %q", err, tt.want)
			}
		})
	}
	// Words registered again are shared, not duplicated.
	tree := NewTree()
	tree.Word("show", "").Word("a", "").Handle(h)
	tree.Word("show", "").Word("b", "").Handle(h)
	if _, err := New(Config{}, tree); err != nil {
		t.Errorf("re-registering a word: %v", err)
	}
}

func TestRunWithoutTerminal(t *testing.T) {
	con, rec := newFakeConsole(t, Config{}, fakeSetup{bindings: 3})
	var out bytes.Buffer
	if err := con.Run(context.Background(), "sh bi mac aa:bb:cc:dd:ee:ff", &out); err != nil {
		t.Fatal(err)
	}
	want := "binding 1 10.0.0.1\nbinding 2 10.0.0.2\nbinding 3 10.0.0.3\n"
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"show bindings mac mac=aa:bb:cc:dd:ee:ff"}, rec.all()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if err := con.Run(context.Background(), "exit", &out); err == nil {
		t.Error("Run(exit) succeeded without a session")
	}
	if err := con.Run(context.Background(), "crash", &out); err == nil || !strings.Contains(err.Error(), "internal error") {
		t.Errorf("Run(crash) = %v, want the panic as an error", err)
	}
	got := con.Counters()
	want2 := Counters{Commands: 2, CommandErrors: 1, Panics: 1}
	if diff := cmp.Diff(want2, got); diff != "" {
		t.Errorf("counters (-want +got):\n%s", diff)
	}
}
