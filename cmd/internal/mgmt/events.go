package mgmt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/leaseguard/leaseguard/cmd/internal/ops"
)

// getEvents streams events as Server-Sent Events: "id: SEQ", "event:
// TYPE", "data: JSON" per event, comments as heartbeats. A client that
// reconnects with Last-Event-ID (or ?after=SEQ) resumes after that event
// while it is still kept, and is told with an events.lost event when not.
func (s *Server) getEvents(w http.ResponseWriter, r *http.Request) error {
	after, err := resumeFrom(r)
	if err != nil {
		return err
	}
	stream := s.ops.Events(after)
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if err := s.send(rc, w, ": leaseguard events\n\n"); err != nil {
		return nil
	}
	for {
		ctx, cancel := context.WithTimeout(r.Context(), s.heartbeat)
		evs, err := stream.Next(ctx)
		cancel()
		switch {
		case r.Context().Err() != nil:
			return nil
		case errors.Is(err, context.DeadlineExceeded):
			err = s.send(rc, w, ": keep-alive\n\n")
		case err == nil:
			err = s.send(rc, w, frames(evs))
		}
		if err != nil {
			return nil // the client went away; nothing more can be said to it
		}
	}
}

func resumeFrom(r *http.Request) (uint64, error) {
	v, field := r.Header.Get("Last-Event-ID"), "Last-Event-ID"
	if q := r.URL.Query(); len(q) > 0 {
		for name := range q {
			if name != "after" {
				return 0, malformed(name, "unknown query parameter %q (after)", name)
			}
		}
		v, field = q.Get("after"), "after"
	}
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, malformed(field, "%s %q is not an event sequence number", field, v)
	}
	return n, nil
}

// frames formats events as SSE frames.
func frames(evs []ops.Event) string {
	var b strings.Builder
	for _, e := range evs {
		data, err := json.Marshal(e)
		if err != nil {
			continue
		}
		if e.Seq != 0 {
			fmt.Fprintf(&b, "id: %d\n", e.Seq)
		}
		fmt.Fprintf(&b, "event: %s\ndata: %s\n\n", e.Type, data)
	}
	return b.String()
}

// send writes and flushes, giving up on a client that stops reading.
func (s *Server) send(rc *http.ResponseController, w http.ResponseWriter, text string) error {
	_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if _, err := w.Write([]byte(text)); err != nil {
		return err
	}
	return rc.Flush()
}
