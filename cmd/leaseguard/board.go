package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/leaseguard/leaseguard/board"
)

// runBoard is `leaseguard board VERB`: list, show, detect, prepare, and
// init (the appliance's uinit: prepare the card, then run the agent).
func runBoard(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	verbs := map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"list": boardList, "show": boardShow, "detect": boardDetect,
		"prepare": boardPrepare, "init": boardInit,
	}
	if len(args) == 0 || verbs[args[0]] == nil {
		return usagef("usage: leaseguard board list|show|detect|prepare|init [--board NAME | --profile FILE]")
	}
	return verbs[args[0]](ctx, args[1:], stdout, stderr)
}

// boardFlags are the flags that choose a profile.
type boardFlags struct {
	fs      *flag.FlagSet
	name    string
	profile string
}

func newBoardFlags(verb string, stderr io.Writer) *boardFlags {
	b := &boardFlags{fs: flag.NewFlagSet("board "+verb, flag.ContinueOnError)}
	b.fs.SetOutput(stderr)
	b.fs.StringVar(&b.name, "board", "", "built-in profile name (default: detect from the device tree or cpuinfo)")
	b.fs.StringVar(&b.profile, "profile", "", "profile JSON file, for hardware without a built-in profile")
	return b
}

func (b *boardFlags) parse(args []string) error {
	if err := b.fs.Parse(args); err != nil {
		return usagef("%v", err)
	}
	if b.fs.NArg() > 0 {
		return usagef("unexpected argument %q", b.fs.Arg(0))
	}
	if b.name != "" && b.profile != "" {
		return usagef("--board and --profile are exclusive")
	}
	return nil
}

// resolve returns the profile the flags name, or the detected one.
func (b *boardFlags) resolve() (board.Profile, error) {
	if b.profile != "" {
		data, err := os.ReadFile(b.profile)
		if err != nil {
			return board.Profile{}, err
		}
		p, err := board.ParseProfile(data)
		if err != nil {
			return board.Profile{}, fmt.Errorf("%s: %w", b.profile, err)
		}
		return p, nil
	}
	builtin, err := board.Builtin()
	if err != nil {
		return board.Profile{}, err
	}
	if b.name != "" {
		return board.Lookup(builtin, b.name)
	}
	m, err := board.ReadMachine(os.DirFS("/"))
	if err != nil {
		return board.Profile{}, err
	}
	return board.Detect(builtin, m)
}

func boardList(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		return usagef("board list takes no arguments")
	}
	ps, err := board.Builtin()
	if err != nil {
		return err
	}
	for _, p := range ps {
		fmt.Fprintf(stdout, "%-20s %-8s %s\n", p.Name, p.Arch, p.Description)
	}
	return nil
}

func boardShow(_ context.Context, args []string, stdout, stderr io.Writer) error {
	bf := newBoardFlags("show", stderr)
	if err := bf.parse(args); err != nil {
		return err
	}
	p, err := bf.resolve()
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}

func boardDetect(_ context.Context, args []string, stdout, stderr io.Writer) error {
	bf := newBoardFlags("detect", stderr)
	if err := bf.parse(args); err != nil {
		return err
	}
	p, err := bf.resolve()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, p.Name)
	return err
}

// prepare resolves the profile and prepares the card, waiting at most
// timeout for the NICs.
func prepare(ctx context.Context, bf *boardFlags, timeout time.Duration, log *slog.Logger) (board.Profile, board.Report, error) {
	p, err := bf.resolve()
	if err != nil {
		return p, board.Report{}, err
	}
	mods, err := board.NewKernelModules()
	if err != nil && len(p.Modules) > 0 {
		return p, board.Report{}, fmt.Errorf("board %s: kernel modules: %w", p.Name, err)
	}
	links, err := board.NewNetlinkLinks()
	if err != nil {
		return p, board.Report{}, err
	}
	defer links.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r, err := board.Prepare(ctx, p, board.Env{Modules: mods, Links: links, Log: log})
	return p, r, err
}

func boardPrepare(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	bf := newBoardFlags("prepare", stderr)
	timeout := bf.fs.Duration("timeout", 30*time.Second, "how long to wait for the NICs to appear")
	if err := bf.parse(args); err != nil {
		return err
	}
	_, r, err := prepare(ctx, bf, *timeout, nil)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, r.ReadyLine())
	return err
}

// boardInit is the image's uinit: prepare the card, say so on the console,
// then hand over to `leaseguard agent` once this binary has that
// subcommand; until then it stays up so the card keeps its state. With
// leaseguard.shell=1 on the kernel command line it also starts a shell on
// the console, for people and for the QEMU tests.
func boardInit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	bf := newBoardFlags("init", stderr)
	timeout := bf.fs.Duration("timeout", 60*time.Second, "how long to wait for the NICs to appear")
	config := bf.fs.String("config", "/etc/leaseguard/agent.json", "agent configuration")
	if err := bf.parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	p, r, err := prepare(ctx, bf, *timeout, log)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, r.ReadyLine())
	agent := findSubcommand("agent")
	if agent == nil {
		fmt.Fprintf(stdout, "leaseguard: board %s: no agent in this build; idle\n", p.Name)
	}
	if cmdline, err := os.ReadFile("/proc/cmdline"); err == nil {
		if v, _ := board.KernelArg(string(cmdline), "leaseguard.shell"); v == "1" {
			go consoleShell(ctx, log)
		}
	}
	if agent != nil {
		superviseAgent(ctx, p.Name, agent, []string{"--config", *config, "--board", p.Name}, stdout, stderr)
	}
	<-ctx.Done()
	return ctx.Err()
}

// superviseAgent runs the agent until ctx ends, restarting it with a
// growing delay when it fails. As the uinit it must not exit: init would
// end and the kernel panic, taking the console shell with it. A
// configuration error is not retried: the card stays up, idle, for an
// operator to fix the file.
func superviseAgent(ctx context.Context, board string, agent *subcommand, args []string, stdout, stderr io.Writer) {
	delay := time.Second
	for {
		err := agent.run(ctx, args, stdout, stderr)
		if ctx.Err() != nil {
			return
		}
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stdout, "leaseguard: board %s: agent configuration: %s; idle\n", board, ue.msg)
			return
		}
		fmt.Fprintf(stdout, "leaseguard: board %s: agent exited (%v); restarting in %v\n", board, err, delay)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, time.Minute)
	}
}

// findSubcommand returns the subcommand called name, or nil when this
// build has none.
func findSubcommand(name string) *subcommand {
	for _, c := range subcommands() {
		if c.name == name {
			return &c
		}
	}
	return nil
}

// consoleShell runs a line-at-a-time shell on the console (each line by
// u-root's gosh) until ctx ends.
func consoleShell(ctx context.Context, log *slog.Logger) {
	err := board.ConsoleShell(ctx, os.Stdin, os.Stdout, "/bin/defaultsh")
	log.Info("console shell ended", "err", err)
}
