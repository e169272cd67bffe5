package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/leaseguard/leaseguard/cmd/internal/agent"
	"github.com/leaseguard/leaseguard/cmd/internal/config"
	"github.com/leaseguard/leaseguard/cmd/internal/ops"
	"github.com/leaseguard/leaseguard/cmd/internal/ops/agentops"
)

// runAgent is `leaseguard agent --config FILE`: the line card's
// long-running process, until SIGTERM or SIGINT (a clean stop, exit 0).
// A configuration it cannot run is a usage error (exit 2) naming the field.
func runAgent(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "/etc/leaseguard/agent.json", "agent configuration (JSON)")
	boardName := fs.String("board", "", "line-card profile the card was prepared with (set by `board init`)")
	debugSocket := fs.String("debug-socket", "", "serve the table, counters and on-demand leasequery on this Unix socket (JSON lines; for tests and the demo until the API lands)")
	if err := fs.Parse(args); err != nil {
		return usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	data, err := os.ReadFile(*path)
	if err != nil {
		return usagef("%v", err)
	}
	cfg, err := config.Parse(data)
	if err != nil {
		return usagef("%s: %v", *path, err)
	}
	logs := ops.NewLogs(stderr, cfg.Log)
	a, err := agent.New(cfg, agent.Options{Logs: logs})
	var ce *agent.ConfigError
	if errors.As(err, &ce) {
		return usagef("%s: %v", *path, err)
	}
	if err != nil {
		return err
	}
	logs.For("agent").Info("agent starting", "config", *path, "board", *boardName, "version", version)
	if err := a.Open(); err != nil {
		return fmt.Errorf("open: %w", err)
	}
	o, err := agentops.Wire(a, cfg, agentops.Options{Logs: logs, ConfigPath: *path})
	var wce *agent.ConfigError
	if errors.As(err, &wce) {
		return usagef("%s: %v", *path, err)
	}
	if err != nil {
		return err
	}
	a.OnLeasequery(o.ObserveLeasequery)
	a.Add("sighup", agent.FuncTask(func(ctx context.Context) error { return reloadOnHangup(ctx, o, logs) }))
	if *debugSocket != "" {
		ds, err := agent.NewDebugSocket(a, *debugSocket)
		if err != nil {
			return err
		}
		a.Add("debug socket", ds)
	}
	return a.Run(ctx)
}

// reloadOnHangup re-reads the configuration file on SIGHUP through the same
// validated, atomic apply path as the management API.
func reloadOnHangup(ctx context.Context, o *ops.Ops, logs *ops.Logs) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	log := logs.For("agent")
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
			if st, err := o.Reload(ctx); err != nil {
				log.Warn("SIGHUP reload refused; the running configuration stays", "err", err)
			} else {
				log.Info("SIGHUP reload applied", "generation", st.Generation)
			}
		}
	}
}
