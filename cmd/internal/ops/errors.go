package ops

import (
	"errors"
	"fmt"

	"github.com/leaseguard/leaseguard/cmd/internal/config"
)

// ErrorKind says what kind of failure an Error is, so each front end can
// answer in its own terms (an HTTP status, a console message).
type ErrorKind uint8

const (
	// Malformed: the request could not be read (bad JSON, unknown key,
	// a value of the wrong type).
	Malformed ErrorKind = iota + 1
	// Invalid: well formed, but a value is out of range or inconsistent.
	Invalid
	// NotFound: nothing at the address, port or name given.
	NotFound
	// Conflict: the precondition failed (the configuration generation
	// changed since the caller read it).
	Conflict
	// Failed: the operation was attempted and failed; nothing changed
	// (a configuration apply rolled back).
	Failed
	// Unavailable: the subsystem is not running (enforcement off, the
	// leasequery client not started) or is at its limit.
	Unavailable
	// Timeout: no answer in time.
	Timeout
)

var kindNames = [...]string{Malformed: "malformed", Invalid: "invalid", NotFound: "not found",
	Conflict: "conflict", Failed: "failed", Unavailable: "unavailable", Timeout: "timeout"}

func (k ErrorKind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Problem is one thing wrong with a request, and the field it is about
// (a JSON path such as "ports[0].gateway", a query parameter, a header).
type Problem struct {
	Field   string `json:"field,omitempty"`
	Message string `json:"error"`
}

// Error is what every operation returns on failure.
type Error struct {
	Kind  ErrorKind
	Field string // the field at fault, when one is
	Err   error
	// Problems lists every problem found when there are several
	// (configuration validation reports them all).
	Problems []Problem
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func errorf(kind ErrorKind, field, format string, args ...any) *Error {
	return &Error{Kind: kind, Field: field, Err: fmt.Errorf(format, args...)}
}

// KindOf returns the kind of err: its *Error's, else Failed.
func KindOf(err error) ErrorKind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Failed
}

// FieldOf returns the field an error names, or "".
func FieldOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

// configError classifies an error of config.Parse or Validate: documents
// that do not decode are Malformed, the rest Invalid; every joined problem
// is listed with the field (a JSON path) its *config.FieldError names.
func configError(err error) *Error {
	var leaves []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		leaves = j.Unwrap()
	} else {
		leaves = []error{err}
	}
	e := &Error{Kind: Invalid, Err: err}
	for i, l := range leaves {
		var fe *config.FieldError
		field, malformed := "", false
		if errors.As(l, &fe) {
			field, malformed = fe.Field, fe.Malformed
		}
		e.Problems = append(e.Problems, Problem{Field: field, Message: l.Error()})
		if i == 0 {
			e.Field = field
			if malformed {
				e.Kind = Malformed
			}
		}
	}
	return e
}
