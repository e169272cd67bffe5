package console

import (
	"fmt"
	"slices"
	"strings"
)

// token is one word of a command line and where it starts.
type token struct {
	text string
	pos  int
}

func tokenize(line string) []token {
	var toks []token
	for i := 0; i < len(line); {
		if isBlank(line[i]) {
			i++
			continue
		}
		j := i
		for j < len(line) && !isBlank(line[j]) {
			j++
		}
		toks = append(toks, token{line[i:j], i})
		i = j
	}
	return toks
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// lineError is a command line the console refuses: the message and the
// byte offset of the word the caret goes under (-1: no caret). depth is
// the index of the word, to prefer the reading that got furthest.
type lineError struct {
	msg   string
	pos   int
	depth int
}

func (e *lineError) Error() string { return e.msg }

// match is one reading of a word after a node.
type match struct {
	node  *Node
	word  string // the keyword or choice word; "" for an argument
	value any    // the choice word or the argument's value
}

// candidates lists the readings of word after n: an exact keyword alone;
// otherwise every keyword it abbreviates and every argument that parses
// it. Keywords match case-insensitively. argErr says why the first
// argument refused the word.
func candidates(n *Node, word string) (ms []match, argErr error) {
	lw := strings.ToLower(word)
	for _, c := range n.children {
		for _, k := range c.words() {
			m := match{node: c, word: k.Name}
			if c.kind == kindChoice {
				m.value = k.Name
			}
			if k.Name == lw {
				return []match{m}, nil
			}
			if strings.HasPrefix(k.Name, lw) {
				ms = append(ms, m)
			}
		}
	}
	for _, c := range n.children {
		if c.kind != kindArg {
			continue
		}
		v, err := c.typ.Parse(word)
		if err != nil {
			if argErr == nil {
				argErr = err
			}
			continue
		}
		ms = append(ms, match{node: c, value: v})
	}
	return ms, argErr
}

// resolve reads a non-empty command line as exactly one runnable command.
// An abbreviation that fits several words is resolved by the rest of the
// line when only one reading of the whole line is a command ("sh bi" is
// "show bindings", "sh bi 10.0.0.1" is "show binding 10.0.0.1").
func resolve(root *Node, line string) (Args, *Node, *lineError) {
	toks := tokenize(line)
	ms, err := walk(root, toks, 0)
	if err != nil {
		return Args{}, nil, err
	}
	a := Args{values: map[string]any{}}
	for _, m := range ms {
		if m.word != "" {
			a.words = append(a.words, m.word)
		}
		if m.node.kind != kindKeyword {
			a.values[m.node.name] = m.value
		}
	}
	return a, ms[len(ms)-1].node, nil
}

// walk returns the one reading of toks[i:] after n that ends at a runnable
// node, or the error that best explains why there is none.
func walk(n *Node, toks []token, i int) ([]match, *lineError) {
	if i == len(toks) {
		if n.runnable() {
			return nil, nil
		}
		return nil, incomplete(n, toks)
	}
	ms, argErr := candidates(n, toks[i].text)
	if len(ms) == 0 {
		return nil, rejected([]*Node{n}, toks[i], i, argErr)
	}
	var found [][]match
	var deepest *lineError
	for _, m := range ms {
		rest, err := walk(m.node, toks, i+1)
		if err == nil {
			found = append(found, append([]match{m}, rest...))
		} else if deepest == nil || err.depth > deepest.depth {
			deepest = err
		}
	}
	switch {
	case len(found) == 1:
		return found[0], nil
	case len(found) == 0 && (len(ms) == 1 || deepest.depth > i+1):
		return nil, deepest
	}
	return nil, ambiguous(toks[i], i, ms)
}

func incomplete(n *Node, toks []token) *lineError {
	typed := make([]string, len(toks))
	for i, t := range toks {
		typed[i] = t.text
	}
	return &lineError{
		msg:   fmt.Sprintf("Incomplete command: %q needs %s", strings.Join(typed, " "), expected([]*Node{n})),
		pos:   -1,
		depth: len(toks),
	}
}

func rejected(at []*Node, tok token, i int, argErr error) *lineError {
	e := &lineError{pos: tok.pos, depth: i}
	switch {
	case len(at) == 1 && at[0].kind == kindRoot:
		e.msg = fmt.Sprintf("Unknown command: %q", tok.text)
	case argErr != nil && !hasWords(at):
		e.msg = fmt.Sprintf("Invalid input: %q %v", tok.text, argErr)
	default:
		e.msg = fmt.Sprintf("Invalid input: %q; expected %s", tok.text, expected(at))
	}
	return e
}

func ambiguous(tok token, i int, ms []match) *lineError {
	var names []string
	for _, m := range ms {
		names = append(names, m.label())
	}
	slices.Sort(names)
	return &lineError{
		msg:   fmt.Sprintf("Ambiguous command: %q (%s)", tok.text, strings.Join(names, ", ")),
		pos:   tok.pos,
		depth: i,
	}
}

func (m match) label() string {
	if m.word != "" {
		return m.word
	}
	return m.node.typ.Placeholder()
}

func hasWords(nodes []*Node) bool {
	for _, n := range nodes {
		for _, c := range n.children {
			if c.kind != kindArg {
				return true
			}
		}
	}
	return false
}

// expected names what may follow nodes: "A.B.C.D" or "one of: ip, mac, <cr>".
func expected(nodes []*Node) string {
	items := helpItems(nodes, "", true)
	names := make([]string, len(items))
	for i, it := range items {
		names[i] = it.name
	}
	if len(names) == 1 {
		return names[0]
	}
	return "one of: " + strings.Join(names, ", ")
}

// reach returns every node the complete words toks can lead to (all
// readings of an ambiguous abbreviation), or the error at the first word
// that leads nowhere.
func reach(root *Node, toks []token) ([]*Node, *lineError) {
	nodes := []*Node{root}
	for i, tok := range toks {
		var next []*Node
		var argErr error
		for _, n := range nodes {
			ms, err := candidates(n, tok.text)
			if argErr == nil {
				argErr = err
			}
			for _, m := range ms {
				if !slices.Contains(next, m.node) {
					next = append(next, m.node)
				}
			}
		}
		if len(next) == 0 {
			return nil, rejected(nodes, tok, i, argErr)
		}
		nodes = next
	}
	return nodes, nil
}

// helpItem is one line of '?' help: a word (a keyword or choice), an
// argument's placeholder or <cr>.
type helpItem struct {
	name, help string
	word       bool
}

// helpItems lists what may come after nodes: with partial, the words it
// abbreviates and the arguments that accept it; without, every word and
// argument, and "<cr>" (withCR) where the command may end. Words are
// sorted, arguments keep their order, <cr> comes last.
func helpItems(nodes []*Node, partial string, withCR bool) []helpItem {
	lp := strings.ToLower(partial)
	var words, args []helpItem
	seen := map[string]bool{}
	add := func(list *[]helpItem, it helpItem) {
		if !seen[it.name] {
			seen[it.name] = true
			*list = append(*list, it)
		}
	}
	cr := false
	for _, n := range nodes {
		cr = cr || n.runnable()
		for _, c := range n.children {
			for _, k := range c.words() {
				if strings.HasPrefix(k.Name, lp) {
					add(&words, helpItem{k.Name, k.Help, true})
				}
			}
			if c.kind == kindArg && (partial == "" || parses(c.typ, partial)) {
				add(&args, helpItem{c.typ.Placeholder(), c.help, false})
			}
		}
	}
	slices.SortFunc(words, func(a, b helpItem) int { return strings.Compare(a.name, b.name) })
	items := append(words, args...)
	if partial == "" && cr && withCR {
		items = append(items, helpItem{"<cr>", "", false})
	}
	return items
}

func parses(t ArgType, w string) bool {
	_, err := t.Parse(w)
	return err == nil
}

// help answers '?' typed after text: the possible next words, or an error
// with the caret under the word that leads nowhere.
func help(root *Node, text string) ([]helpItem, *lineError) {
	toks := tokenize(text)
	partial := ""
	if len(toks) > 0 && !isBlank(text[len(text)-1]) {
		partial = toks[len(toks)-1].text
		toks = toks[:len(toks)-1]
	}
	nodes, err := reach(root, toks)
	if err != nil {
		return nil, err
	}
	items := helpItems(nodes, partial, true)
	if len(items) == 0 {
		return nil, rejected(nodes, token{partial, len(text) - len(partial)}, len(toks), nil)
	}
	return items, nil
}

// complete returns the word that replaces the partial word at the end of
// text (TAB), and whether it is whole (a space may follow). ok is false
// when there is nothing unambiguous to add.
func complete(root *Node, text string) (word string, whole, ok bool) {
	toks := tokenize(text)
	if len(toks) == 0 || isBlank(text[len(text)-1]) {
		return "", false, false
	}
	partial := strings.ToLower(toks[len(toks)-1].text)
	nodes, err := reach(root, toks[:len(toks)-1])
	if err != nil {
		return "", false, false
	}
	var names []string
	for _, it := range helpItems(nodes, partial, false) {
		if it.word {
			names = append(names, it.name)
		}
	}
	switch {
	case len(names) == 0:
		return "", false, false
	case slices.Contains(names, partial):
		return partial, true, true
	case len(names) == 1:
		return names[0], true, true
	}
	p := commonPrefix(names)
	return p, false, len(p) > len(partial)
}

func commonPrefix(names []string) string {
	p := names[0]
	for _, n := range names[1:] {
		for !strings.HasPrefix(n, p) {
			p = p[:len(p)-1]
		}
	}
	return p
}
