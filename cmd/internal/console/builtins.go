package console

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
)

// builtinWords are the commands the console itself provides.
var builtinWords = []string{"help", "exit", "terminal"}

// withBuiltins returns a root with the caller's commands and the
// built-ins, or the caller's registration mistakes.
func (c *Console) withBuiltins(user *Tree) (*Node, error) {
	if user == nil {
		user = NewTree()
	}
	user.root.validate()
	if err := user.Err(); err != nil {
		return nil, err
	}
	t := NewTree()
	for _, n := range user.root.children {
		for _, w := range n.words() {
			if slices.Contains(builtinWords, w.Name) {
				return nil, fmt.Errorf("command tree: %q is a console built-in", w.Name)
			}
		}
	}
	t.root.children = slices.Clone(user.root.children)
	t.Word("help", "How to use this console").Handle(c.help)
	t.Word("exit", "Log out").builtin = exitBuiltin
	t.Word("terminal", "Set this session's terminal").
		Word("length", "Lines per page before --More--").
		Arg("rows", Integer(0, 512), "Lines per page, 0 for no paging").builtin = lengthBuiltin
	if err := t.Err(); err != nil {
		return nil, err
	}
	return &t.root, nil
}

const helpText = `Commands may be abbreviated to any unambiguous prefix: "sh bi" is
"show bindings".
  ?                  what may come next; "sh b?" lists the words in b
  TAB                complete the word
  Up, Down           earlier commands (also Ctrl-P, Ctrl-N)
  Left, Right        move (also Ctrl-B, Ctrl-F); Ctrl-A, Ctrl-E: start, end
  Ctrl-K, -U, -W     delete to the end, to the start, the previous word
  Ctrl-C             abandon the line, or stop a command
  Ctrl-D             log out (on an empty line)
  --More--           space: next page, Enter: next line, q: stop
  terminal length N  lines per page (0: no paging)

Commands:
`

// help is the `help` command: how to use the console, then the commands.
func (c *Console) help(_ context.Context, _ Args, out io.Writer) error {
	if _, err := io.WriteString(out, helpText); err != nil {
		return err
	}
	return writeHelpItems(out, helpItems([]*Node{c.root}, "", false))
}

// writeHelpItems lists items in two columns, as '?' does.
func writeHelpItems(out io.Writer, items []helpItem) error {
	width := 0
	for _, it := range items {
		width = max(width, min(len(it.name), 20))
	}
	var b strings.Builder
	for _, it := range items {
		line := fmt.Sprintf("  %-*s  %s", width, it.name, it.help)
		b.WriteString(strings.TrimRight(line, " "))
		b.WriteByte('\n')
	}
	_, err := io.WriteString(out, b.String())
	return err
}

func exitBuiltin(s *session, _ Args) error {
	s.logout("")
	return nil
}

func lengthBuiltin(s *session, args Args) error {
	s.length = int(args.Int("rows"))
	return nil
}
