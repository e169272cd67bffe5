package mgmttest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// OpenAPI is a loaded OpenAPI 3 document.
type OpenAPI struct {
	doc map[string]any
}

// LoadOpenAPI reads the document at path.
func LoadOpenAPI(path string) (*OpenAPI, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	v, err := ParseYAML(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	doc, ok := v.(map[string]any)
	if !ok || doc["openapi"] == nil || doc["paths"] == nil {
		return nil, fmt.Errorf("%s: not an OpenAPI document", path)
	}
	return &OpenAPI{doc: doc}, nil
}

var methods = []string{"get", "put", "post", "delete", "patch", "head", "options"}

// Routes lists "METHOD /path" for every operation described, sorted.
func (o *OpenAPI) Routes() []string {
	var out []string
	for path, item := range mapOf(o.doc["paths"]) {
		for _, m := range methods {
			if _, ok := mapOf(item)[m]; ok {
				out = append(out, strings.ToUpper(m)+" "+path)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Operation returns the operation of method and path.
func (o *OpenAPI) Operation(method, path string) (map[string]any, bool) {
	op, ok := mapOf(mapOf(o.doc["paths"])[path])[strings.ToLower(method)].(map[string]any)
	return op, ok
}

// ResponseSchema is the schema of an operation's response with status
// (falling back to "default"), and its media type.
func (o *OpenAPI) ResponseSchema(method, path string, status int) (map[string]any, string, error) {
	op, ok := o.Operation(method, path)
	if !ok {
		return nil, "", fmt.Errorf("%s %s is not described", method, path)
	}
	resps := mapOf(op["responses"])
	resp, ok := resps[fmt.Sprint(status)]
	if !ok {
		if resp, ok = resps["default"]; !ok {
			return nil, "", fmt.Errorf("%s %s: no response %d or default described", method, path, status)
		}
	}
	r, err := o.deref(mapOf(resp))
	if err != nil {
		return nil, "", err
	}
	for media, c := range mapOf(r["content"]) {
		return mapOf(mapOf(c)["schema"]), media, nil
	}
	return nil, "", fmt.Errorf("%s %s %d: no content described", method, path, status)
}

// deref follows a $ref to components.
func (o *OpenAPI) deref(m map[string]any) (map[string]any, error) {
	for range 16 {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m, nil
		}
		parts := strings.Split(strings.TrimPrefix(ref, "#/"), "/")
		var cur any = o.doc
		for _, p := range parts {
			cur = mapOf(cur)[p]
		}
		next, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("$ref %q does not resolve", ref)
		}
		m = next
	}
	return nil, fmt.Errorf("$ref loop")
}

// Schema returns components.schemas[name].
func (o *OpenAPI) Schema(name string) map[string]any {
	return mapOf(mapOf(mapOf(o.doc["components"])["schemas"])[name])
}

// Validate checks JSON data against schema. It supports what the
// document uses: type, properties, required, additionalProperties
// (absent means none: objects are closed), items, enum, format ipv4 and
// date-time, minimum and maximum, and $ref. It returns every mismatch, each with its JSON path.
func (o *OpenAPI) Validate(schema map[string]any, data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("not JSON: %v", err)
	}
	var errs []string
	o.check(schema, v, "$", &errs)
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return nil
}

func (o *OpenAPI) check(schema map[string]any, v any, path string, errs *[]string) {
	s, err := o.deref(schema)
	if err != nil {
		*errs = append(*errs, path+": "+err.Error())
		return
	}
	bad := func(format string, args ...any) { *errs = append(*errs, path+": "+fmt.Sprintf(format, args...)) }
	if enum, ok := s["enum"].([]any); ok && !slices.Contains(enum, any(fmt.Sprint(v))) {
		bad("%v is not one of %v", v, enum)
	}
	switch t := s["type"]; t {
	case "object":
		o.checkObject(s, v, path, errs)
	case "array":
		items, ok := v.([]any)
		if !ok {
			bad("%s is not an array", jsonOf(v))
			return
		}
		for i, it := range items {
			o.check(mapOf(s["items"]), it, fmt.Sprintf("%s[%d]", path, i), errs)
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			bad("%s is not a string", jsonOf(v))
			return
		}
		checkFormat(s["format"], str, bad)
	case "integer", "number":
		n, ok := v.(json.Number)
		if !ok {
			bad("%s is not a %s", jsonOf(v), t)
		} else if _, err := n.Int64(); t == "integer" && err != nil && !isUint(n) {
			bad("%s is not an integer", n)
		} else {
			checkRange(s, n, bad)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			bad("%s is not a boolean", jsonOf(v))
		}
	case nil:
	default:
		bad("schema type %v not supported by this checker", t)
	}
}

func (o *OpenAPI) checkObject(s map[string]any, v any, path string, errs *[]string) {
	obj, ok := v.(map[string]any)
	if !ok {
		*errs = append(*errs, fmt.Sprintf("%s: %s is not an object", path, jsonOf(v)))
		return
	}
	for _, r := range listOf(s["required"]) {
		if _, ok := obj[fmt.Sprint(r)]; !ok {
			*errs = append(*errs, fmt.Sprintf("%s: required property %q missing", path, r))
		}
	}
	props := mapOf(s["properties"])
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		switch extra := s["additionalProperties"].(type) {
		case nil, bool:
			if p, ok := props[k]; ok {
				o.check(mapOf(p), obj[k], path+"."+k, errs)
			} else if extra != true {
				*errs = append(*errs, fmt.Sprintf("%s: property %q is not described", path, k))
			}
		case map[string]any:
			o.check(extra, obj[k], path+"."+k, errs)
		}
	}
}

// checkRange checks minimum and maximum (inclusive), written as plain
// scalars in the document.
func checkRange(s map[string]any, n json.Number, bad func(string, ...any)) {
	f, err := n.Float64()
	if err != nil {
		return
	}
	for _, b := range []struct {
		key    string
		failed func(limit float64) bool
	}{{"minimum", func(l float64) bool { return f < l }}, {"maximum", func(l float64) bool { return f > l }}} {
		raw, ok := s[b.key]
		if !ok {
			continue
		}
		limit, err := strconv.ParseFloat(fmt.Sprint(raw), 64)
		if err != nil {
			bad("schema %s %v is not a number", b.key, raw)
		} else if b.failed(limit) {
			bad("%s is outside its %s %v", n, b.key, raw)
		}
	}
}

func checkFormat(format any, s string, bad func(string, ...any)) {
	switch format {
	case "ipv4":
		if a, err := netip.ParseAddr(s); err != nil || !a.Is4() {
			bad("%q is not an IPv4 address", s)
		}
	case "date-time":
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			bad("%q is not an RFC 3339 date-time", s)
		}
	}
}

func isUint(n json.Number) bool {
	var u uint64
	_, err := fmt.Sscan(string(n), &u)
	return err == nil && !strings.ContainsAny(string(n), ".eE")
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 60 {
		return string(b[:60]) + "..."
	}
	return string(b)
}

func mapOf(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func listOf(v any) []any {
	l, _ := v.([]any)
	return l
}
