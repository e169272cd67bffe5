package config

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// locate finds where in a JSON document the decoder's complaint lies, for
// the errors encoding/json reports without a path: an unknown key (it
// names only the key) and a value its TextUnmarshaler refused (it names
// nothing). It walks the document alongside the Go type and returns the
// first such problem as a path like "ports[1].modem".
func locate(data []byte, t reflect.Type) (field, msg string, ok bool) {
	var doc any
	if json.Unmarshal(data, &doc) != nil {
		return "", "", false
	}
	return walk(doc, t, "")
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

func walk(v any, t reflect.Type, path string) (string, string, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if s, isString := v.(string); isString && reflect.PointerTo(t).Implements(textUnmarshaler) {
		err := reflect.New(t).Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s))
		if err != nil {
			return path, err.Error(), true
		}
		return "", "", false
	}
	switch t.Kind() {
	case reflect.Struct:
		return walkStruct(v, t, path)
	case reflect.Slice:
		items, _ := v.([]any)
		for i, item := range items {
			if f, m, ok := walk(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); ok {
				return f, m, ok
			}
		}
	case reflect.Map:
		obj, _ := v.(map[string]any)
		for _, k := range sortedKeys(obj) {
			if f, m, ok := walk(obj[k], t.Elem(), join(path, k)); ok {
				return f, m, ok
			}
		}
	}
	return "", "", false
}

func walkStruct(v any, t reflect.Type, path string) (string, string, bool) {
	obj, isObject := v.(map[string]any)
	if !isObject {
		return "", "", false
	}
	fields := map[string]reflect.Type{}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			name = f.Name
		}
		if f.IsExported() && name != "-" {
			fields[name] = f.Type
		}
	}
	for _, k := range sortedKeys(obj) {
		ft, known := fields[k]
		if !known {
			return join(path, k), "unknown key", true
		}
		if f, m, ok := walk(obj[k], ft, join(path, k)); ok {
			return f, m, ok
		}
	}
	return "", "", false
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
