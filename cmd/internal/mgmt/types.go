package mgmt

import "github.com/leaseguard/leaseguard/cmd/internal/ops"

// Request and response bodies of the API that are not the operations'
// own types (package ops); names and fields are those of docs/openapi.yaml.

// ErrorBody is every error response.
type ErrorBody struct {
	Error string `json:"error"`
	// Field names what is wrong: a JSON path in the body
	// ("ports[0].gateway"), a query parameter, a header.
	Field string `json:"field,omitempty"`
	// Problems lists every problem when there are several (configuration
	// validation).
	Problems []ops.Problem `json:"problems,omitempty"`
	// Generation is the configuration generation running, on errors of
	// the configuration endpoints.
	Generation uint64 `json:"generation,omitempty"`
}

// LeasequeryRequest asks by exactly one of ip, mac (with htype, default
// 1) or client_id (hex, type octet first).
type LeasequeryRequest struct {
	IP       string `json:"ip,omitempty"`
	MAC      string `json:"mac,omitempty"`
	HType    uint8  `json:"htype,omitempty"`
	ClientID string `json:"client_id,omitempty"`
}

// IPRequest names one binding.
type IPRequest struct {
	IP string `json:"ip"`
}

// ClearedBinding is the binding a clear removed.
type ClearedBinding struct {
	Cleared ops.Binding `json:"cleared"`
}

// DebugRequest turns a subsystem's console trace on or off.
type DebugRequest struct {
	Subsystem string `json:"subsystem"`
	On        *bool  `json:"on"`
}

// LogLevelRequest sets a subsystem's log level ("all": the global one).
type LogLevelRequest struct {
	Subsystem string `json:"subsystem"`
	Level     string `json:"level"`
}

// Validation is a configuration that passed validation.
type Validation struct {
	Valid bool `json:"valid"`
}

// ServerList, PortList: the collections.
type ServerList struct {
	Servers []ops.Server `json:"servers"`
}

type PortList struct {
	Ports []ops.Port `json:"ports"`
}
