package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Handler runs one command. It writes its output to out (lines end in
// "\n"; the console turns them into CRLF and pages them) and returns an
// error the console shows as "% error". ctx ends when the operator presses
// Ctrl-C or q at --More--, or the session ends; out then fails, so a
// handler looping over many records stops at its next write. Writes may
// wait while the operator reads a page: handlers should take a snapshot of
// what they show before writing it.
type Handler func(ctx context.Context, args Args, out io.Writer) error

// Keyword is one word of a Choice, with its help text.
type Keyword struct {
	Name, Help string
}

// Tree is a command grammar: words, choices and typed arguments, with
// handlers where a command may end. Build it before New; it must not change
// afterwards. Registration mistakes are collected and reported by New.
type Tree struct {
	root Node
	errs []error
}

// NewTree returns an empty grammar.
func NewTree() *Tree {
	t := &Tree{}
	t.root.tree = t
	return t
}

// Word registers a top-level command word; see Node.Word.
func (t *Tree) Word(name, help string) *Node { return t.root.Word(name, help) }

// Err reports the registration mistakes so far.
func (t *Tree) Err() error { return errors.Join(t.errs...) }

type nodeKind uint8

const (
	kindRoot    nodeKind = iota
	kindKeyword          // a fixed word
	kindChoice           // one of several words, its value stored under name
	kindArg              // a typed value stored under name
)

// sessionFunc is a built-in that acts on the session itself (exit,
// terminal length) rather than writing output.
type sessionFunc func(s *session, args Args) error

// Node is a position in the grammar: the command so far.
type Node struct {
	tree     *Tree
	parent   *Node
	kind     nodeKind
	name     string
	help     string
	choices  []Keyword
	typ      ArgType
	children []*Node
	handler  Handler
	builtin  sessionFunc
}

// Word adds (or returns the existing) keyword that may follow n. Keywords
// are lower-case letters, digits and '-', starting with a letter, and are
// matched by any unambiguous prefix.
func (n *Node) Word(name, help string) *Node {
	for _, c := range n.children {
		if c.kind == kindKeyword && c.name == name {
			return c
		}
	}
	n.checkWord(name)
	return n.add(&Node{kind: kindKeyword, name: name, help: help})
}

// Choice adds one word out of several, each matched like a keyword; the
// handler finds the chosen word as args.String(name). All choices lead to
// the returned node.
func (n *Node) Choice(name string, choices ...Keyword) *Node {
	if len(choices) == 0 {
		n.errorf("choice %q has no words", name)
	}
	for _, k := range choices {
		n.checkWord(k.Name)
	}
	return n.add(&Node{kind: kindChoice, name: name, choices: choices})
}

// Arg adds a typed argument; the handler finds its value under name.
func (n *Node) Arg(name string, typ ArgType, help string) *Node {
	if typ == nil {
		n.errorf("argument %q has no type", name)
		typ = FreeWord
	}
	for _, c := range n.children {
		if c.kind == kindArg && c.name == name {
			n.errorf("argument %q registered twice", name)
		}
	}
	return n.add(&Node{kind: kindArg, name: name, typ: typ, help: help})
}

// Handle makes the command that ends at n runnable.
func (n *Node) Handle(h Handler) *Node {
	switch {
	case h == nil:
		n.errorf("nil handler")
	case n.handler != nil || n.builtin != nil:
		n.errorf("handler registered twice")
	case n.kind == kindRoot:
		n.errorf("a handler for the empty command")
	default:
		n.handler = h
	}
	return n
}

func (n *Node) add(c *Node) *Node {
	c.tree, c.parent = n.tree, n
	n.children = append(n.children, c)
	return c
}

// checkWord records an error if name is not a valid keyword or is already
// one of n's words.
func (n *Node) checkWord(name string) {
	if !validWord(name) {
		n.errorf("%q is not a valid command word", name)
		return
	}
	for _, c := range n.children {
		for _, w := range c.words() {
			if w.Name == name {
				n.errorf("word %q registered twice", name)
			}
		}
	}
}

func validWord(w string) bool {
	if w == "" || w[0] < 'a' || w[0] > 'z' {
		return false
	}
	for i := 0; i < len(w); i++ {
		c := w[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func (n *Node) errorf(format string, args ...any) {
	where := n.path()
	if where == "" {
		where = "top level"
	}
	n.tree.errs = append(n.tree.errs, fmt.Errorf("command tree: %s: %s", where, fmt.Sprintf(format, args...)))
}

// words lists the keywords a node is matched by (none for an argument).
func (n *Node) words() []Keyword {
	switch n.kind {
	case kindKeyword:
		return []Keyword{{n.name, n.help}}
	case kindChoice:
		return n.choices
	}
	return nil
}

// runnable reports whether a command may end at n.
func (n *Node) runnable() bool { return n.handler != nil || n.builtin != nil }

// path is the command leading to n, as help would show it.
func (n *Node) path() string {
	var parts []string
	for p := n; p != nil && p.kind != kindRoot; p = p.parent {
		parts = append(parts, p.label())
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.Join(parts, " ")
}

// label is how n shows in a path or an error: its word, its choices or its
// argument's placeholder.
func (n *Node) label() string {
	switch n.kind {
	case kindChoice:
		names := make([]string, len(n.choices))
		for i, k := range n.choices {
			names[i] = k.Name
		}
		return strings.Join(names, "|")
	case kindArg:
		return n.typ.Placeholder()
	}
	return n.name
}

// validate reports dead ends: commands that can neither run nor continue.
func (n *Node) validate() {
	if n.kind != kindRoot && len(n.children) == 0 && !n.runnable() {
		n.errorf("neither a handler nor sub-commands")
	}
	for _, c := range n.children {
		c.validate()
	}
}
