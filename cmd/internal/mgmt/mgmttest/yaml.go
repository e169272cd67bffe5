// Package mgmttest checks the management API against its description
// (docs/openapi.yaml) and checks that a configuration apply which fails
// half-way leaves everything as it was; the unit tests of mgmt run it
// over the fake agent, end-to-end tests over the real one.
package mgmttest

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseYAML reads the block-style subset of YAML that docs/openapi.yaml
// is written in (no YAML module is among the dependencies): mappings and
// sequences by indentation, "- key: value" items, plain, single- and
// double-quoted scalars, flow sequences of scalars ([a, "b"]), the empty
// flow mapping {}, and full-line comments. Plain true and false are
// booleans; every other scalar is a string. Anything else is an error
// naming the line.
func ParseYAML(data []byte) (any, error) {
	p := &yamlParser{}
	for i, raw := range strings.Split(string(data), "\n") {
		raw = strings.TrimRight(raw, " \r")
		trimmed := strings.TrimLeft(raw, " ")
		if trimmed == "" || strings.HasPrefix(trimmed, "#") || raw == "---" {
			continue
		}
		if strings.Contains(raw, "\t") {
			return nil, fmt.Errorf("yaml: line %d: tab character", i+1)
		}
		p.lines = append(p.lines, yamlLine{n: i + 1, indent: len(raw) - len(trimmed), text: trimmed})
	}
	if len(p.lines) == 0 {
		return nil, nil
	}
	v, err := p.block(p.lines[0].indent)
	if err == nil && p.pos < len(p.lines) {
		err = fmt.Errorf("yaml: line %d: unexpected indentation", p.lines[p.pos].n)
	}
	return v, err
}

type yamlLine struct {
	n, indent int
	text      string
}

type yamlParser struct {
	lines []yamlLine
	pos   int
}

func (p *yamlParser) block(indent int) (any, error) {
	l := p.lines[p.pos]
	if l.indent != indent {
		return nil, fmt.Errorf("yaml: line %d: unexpected indentation", l.n)
	}
	if l.text == "-" || strings.HasPrefix(l.text, "- ") {
		return p.sequence(indent)
	}
	return p.mapping(indent)
}

func (p *yamlParser) mapping(indent int) (any, error) {
	m := map[string]any{}
	for p.pos < len(p.lines) && p.lines[p.pos].indent == indent {
		l := p.lines[p.pos]
		if strings.HasPrefix(l.text, "- ") || l.text == "-" {
			return nil, fmt.Errorf("yaml: line %d: a sequence item where a key was expected", l.n)
		}
		key, rest, err := splitKey(l.text)
		if err != nil {
			return nil, fmt.Errorf("yaml: line %d: %v", l.n, err)
		}
		if _, dup := m[key]; dup {
			return nil, fmt.Errorf("yaml: line %d: key %q repeated", l.n, key)
		}
		p.pos++
		if m[key], err = p.value(rest, indent, l.n); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// value is what follows "key:" or "- ": a scalar on the line, or a
// nested block on the lines after.
func (p *yamlParser) value(rest string, indent, line int) (any, error) {
	if rest != "" {
		v, err := scalar(rest)
		if err != nil {
			return nil, fmt.Errorf("yaml: line %d: %v", line, err)
		}
		return v, nil
	}
	if p.pos < len(p.lines) && p.lines[p.pos].indent > indent {
		return p.block(p.lines[p.pos].indent)
	}
	return nil, nil
}

func (p *yamlParser) sequence(indent int) (any, error) {
	var s []any
	for p.pos < len(p.lines) && p.lines[p.pos].indent == indent {
		l := p.lines[p.pos]
		if l.text != "-" && !strings.HasPrefix(l.text, "- ") {
			return nil, fmt.Errorf("yaml: line %d: a key where a sequence item was expected", l.n)
		}
		item := strings.TrimLeft(strings.TrimPrefix(l.text, "-"), " ")
		if _, _, err := splitKey(item); err == nil && !isQuotedScalar(item) {
			// "- key: value": a mapping whose first line is this one.
			p.lines[p.pos] = yamlLine{n: l.n, indent: indent + len(l.text) - len(item), text: item}
			v, err := p.mapping(p.lines[p.pos].indent)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
			continue
		}
		p.pos++
		v, err := p.value(item, indent, l.n)
		if err != nil {
			return nil, err
		}
		s = append(s, v)
	}
	return s, nil
}

func isQuotedScalar(s string) bool {
	if len(s) < 2 || (s[0] != '"' && s[0] != '\'') {
		return false
	}
	_, n, err := quotedPrefix(s)
	return err == nil && n == len(s)
}

// splitKey splits "key: rest" or "key:"; the key may be quoted.
func splitKey(text string) (key, rest string, err error) {
	if text == "" {
		return "", "", fmt.Errorf("empty key")
	}
	if text[0] == '"' || text[0] == '\'' {
		k, n, err := quotedPrefix(text)
		if err != nil {
			return "", "", err
		}
		after := text[n:]
		if after != ":" && !strings.HasPrefix(after, ": ") {
			return "", "", fmt.Errorf("want ':' after the key %q", k)
		}
		return k, strings.TrimSpace(strings.TrimPrefix(after, ":")), nil
	}
	if i := strings.Index(text, ": "); i > 0 {
		return text[:i], strings.TrimSpace(text[i+2:]), nil
	}
	if strings.HasSuffix(text, ":") && len(text) > 1 {
		return text[:len(text)-1], "", nil
	}
	return "", "", fmt.Errorf("%q is not a key: value pair", text)
}

func scalar(s string) (any, error) {
	switch {
	case s[0] == '"' || s[0] == '\'':
		v, n, err := quotedPrefix(s)
		if err == nil && n != len(s) {
			err = fmt.Errorf("unexpected %q after a quoted scalar", s[n:])
		}
		return v, err
	case s[0] == '[':
		return flowSequence(s)
	case s == "{}":
		return map[string]any{}, nil
	case strings.ContainsAny(s[:1], "{|>&*!%@`"):
		return nil, fmt.Errorf("%q: this subset of YAML has no %q", s, s[:1])
	case strings.Contains(s, ": ") || strings.Contains(s, " #"):
		return nil, fmt.Errorf("%q: quote a value containing \": \" or \" #\"", s)
	case s == "true":
		return true, nil
	case s == "false":
		return false, nil
	}
	return s, nil
}

// quotedPrefix reads the quoted scalar at the start of s and returns its
// value and length.
func quotedPrefix(s string) (string, int, error) {
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case q == '\'' && c == '\'' && i+1 < len(s) && s[i+1] == '\'':
			b.WriteByte('\'')
			i++
		case c == q:
			return b.String(), i + 1, nil
		case q == '"' && c == '\\' && i+1 < len(s):
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case '"', '\\', '/':
				b.WriteByte(s[i])
			default:
				return "", 0, fmt.Errorf("unknown escape \\%c", s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, fmt.Errorf("unterminated quoted scalar %s", strconv.Quote(s))
}

func flowSequence(s string) (any, error) {
	if !strings.HasSuffix(s, "]") {
		return nil, fmt.Errorf("%q: a flow sequence must end the line with ]", s)
	}
	inner := strings.TrimSpace(s[1 : len(s)-1])
	out := []any{}
	for inner != "" {
		var item string
		if inner[0] == '"' || inner[0] == '\'' {
			v, n, err := quotedPrefix(inner)
			if err != nil {
				return nil, err
			}
			item, inner = v, strings.TrimSpace(inner[n:])
		} else {
			i := strings.IndexByte(inner, ',')
			if i < 0 {
				i = len(inner)
			}
			item, inner = strings.TrimSpace(inner[:i]), inner[i:]
			if item == "" || strings.ContainsAny(item, "[]{}\"'") {
				return nil, fmt.Errorf("%q: bad flow sequence item %q", s, item)
			}
		}
		out = append(out, item)
		if inner == "" {
			break
		}
		if inner[0] != ',' {
			return nil, fmt.Errorf("%q: want ',' between items", s)
		}
		inner = strings.TrimSpace(inner[1:])
		if inner == "" {
			return nil, fmt.Errorf("%q: trailing ','", s)
		}
	}
	return out, nil
}
