package platform

import (
	"context"
	"errors"
	"sync"
)

// PortSet is the relay's subscriber ports, each read by its own loop so
// that a failing port never stops the others.
type PortSet struct {
	ports  []*Port
	byName map[string]*Port
}

// OpenPorts opens every port, or none: on an error it closes those it
// opened. It must be called in the network namespace of the interfaces.
func OpenPorts(cfgs []PortConfig) (*PortSet, error) {
	s := &PortSet{byName: make(map[string]*Port, len(cfgs))}
	for _, cfg := range cfgs {
		if _, dup := s.byName[cfg.Name]; dup {
			s.Close()
			return nil, &PortError{cfg.Name, "open", errors.New("listed twice")}
		}
		p, err := OpenPort(cfg)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.ports = append(s.ports, p)
		s.byName[cfg.Name] = p
	}
	return s, nil
}

// Port returns the port on the named interface.
func (s *PortSet) Port(name string) (*Port, bool) {
	p, ok := s.byName[name]
	return p, ok
}

// Ports returns the ports in configuration order.
func (s *PortSet) Ports() []*Port { return append([]*Port(nil), s.ports...) }

// Run runs every port's loop with handler h until ctx is done, then
// returns ctx's error. A port whose loop ends early (its socket closed or
// failing) is reported to onError, if set, and the others go on.
func (s *PortSet) Run(ctx context.Context, h ClientHandler, onError func(error)) error {
	var wg sync.WaitGroup
	for _, p := range s.ports {
		wg.Go(func() {
			if err := p.Run(ctx, h); err != nil && ctx.Err() == nil && onError != nil {
				onError(err)
			}
		})
	}
	wg.Wait()
	return ctx.Err()
}

// Close closes every port.
func (s *PortSet) Close() error {
	var errs []error
	for _, p := range s.ports {
		errs = append(errs, p.Close())
	}
	return errors.Join(errs...)
}
