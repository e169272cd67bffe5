package mgmt

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/leaseguard/leaseguard/cmd/internal/ops"
)

// MaxBody bounds a request body (a configuration is a few kilobytes).
const MaxBody = 1 << 20

// httpError is an error with its status, for what ops does not classify
// (a body too large, the wrong media type, an unknown route).
type httpError struct {
	status int
	body   ErrorBody
}

func (e *httpError) Error() string { return e.body.Error }

func statusOf(err error) int {
	var he *httpError
	if errors.As(err, &he) {
		return he.status
	}
	switch ops.KindOf(err) {
	case ops.Malformed:
		return http.StatusBadRequest
	case ops.Invalid:
		return http.StatusUnprocessableEntity
	case ops.NotFound:
		return http.StatusNotFound
	case ops.Conflict:
		return http.StatusPreconditionFailed
	case ops.Unavailable:
		return http.StatusServiceUnavailable
	case ops.Timeout:
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

func errorBody(err error) ErrorBody {
	var he *httpError
	if errors.As(err, &he) {
		return he.body
	}
	b := ErrorBody{Error: err.Error(), Field: ops.FieldOf(err)}
	var oe *ops.Error
	if errors.As(err, &oe) && len(oe.Problems) > 1 {
		b.Problems = oe.Problems
	}
	return b
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err = w.Write(append(b, '\n'))
	return err
}

// readBody reads a JSON request body, at most MaxBody bytes.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return nil, &httpError{http.StatusUnsupportedMediaType,
				ErrorBody{Error: fmt.Sprintf("content type %q: the API takes application/json", ct), Field: "Content-Type"}}
		}
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, &httpError{http.StatusRequestEntityTooLarge, ErrorBody{Error: fmt.Sprintf("request body larger than %d bytes", MaxBody)}}
	}
	if err != nil {
		return nil, &httpError{http.StatusBadRequest, ErrorBody{Error: "reading the request body: " + err.Error()}}
	}
	return b, nil
}

// decodeBody decodes a JSON request body strictly: unknown fields,
// wrong types, trailing data and syntax errors are Malformed, naming the
// field or the offset. An empty body decodes as {} when allowEmpty.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, allowEmpty bool) error {
	b, err := readBody(w, r)
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		if allowEmpty {
			return nil
		}
		return &ops.Error{Kind: ops.Malformed, Err: errors.New("request body: a JSON object is required")}
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return &ops.Error{Kind: ops.Malformed, Err: errors.New("request body: unexpected data after the JSON object")}
	}
	return nil
}

func jsonError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return &ops.Error{Kind: ops.Malformed, Err: fmt.Errorf("request body: malformed JSON at byte %d: %v", se.Offset, se)}
	case errors.As(err, &te):
		return &ops.Error{Kind: ops.Malformed, Field: te.Field, Err: fmt.Errorf("request body: field %q: %s is not a valid %s", te.Field, te.Value, te.Type)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return &ops.Error{Kind: ops.Malformed, Field: f, Err: fmt.Errorf("request body: unknown field %q", f)}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &ops.Error{Kind: ops.Malformed, Err: errors.New("request body: malformed JSON: unexpected end")}
	}
	return &ops.Error{Kind: ops.Malformed, Err: fmt.Errorf("request body: %v", err)}
}
