package qemu

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// VM is a running QEMU.
type VM struct {
	Console *Console
	Args    []string
	cfg     Config
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
}

// Start boots cfg in the background; Stop ends it.
func Start(cfg Config) (*VM, error) {
	args, err := Args(cfg)
	if err != nil {
		return nil, err
	}
	if _, err := exec.LookPath(args[0]); err != nil {
		return nil, fmt.Errorf("board %s: %w", cfg.Profile.Name, err)
	}
	for _, f := range []string{cfg.Kernel, cfg.Initrd} {
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("board %s: %w", cfg.Profile.Name, err)
		}
	}
	argv := args
	if cfg.Netns != "" {
		argv = append([]string{"ip", "netns", "exec", cfg.Netns}, args...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	// Own process group, killed with the test binary if it dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	vm := &VM{Args: args, cfg: cfg, cmd: cmd, done: make(chan struct{})}
	vm.Console = NewConsole(time.Now(), stdin)
	cmd.Stdout, cmd.Stderr = vm.Console, vm.Console
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("board %s: start %s: %w", cfg.Profile.Name, args[0], err)
	}
	go func() {
		vm.waitErr = cmd.Wait()
		vm.Console.CloseWithError(fmt.Errorf("%s exited: %v", args[0], vm.waitErr))
		close(vm.done)
	}()
	return vm, nil
}

// Done is closed when QEMU has exited.
func (v *VM) Done() <-chan struct{} { return v.done }

// Err is how QEMU exited (nil: status 0, as on a guest reboot under
// -no-reboot); it waits for the exit.
func (v *VM) Err() error {
	<-v.done
	return v.waitErr
}

// Stop kills QEMU (the guest has nothing to flush) and waits for it.
func (v *VM) Stop() {
	select {
	case <-v.done:
		return
	default:
	}
	_ = syscall.Kill(-v.cmd.Process.Pid, syscall.SIGKILL)
	<-v.done
}

// DialCLI connects to the CLI serial port's socket. QEMU's socket exists
// once QEMU has started; Dial waits for it up to timeout.
func (v *VM) DialCLI(timeout time.Duration) (net.Conn, error) {
	if v.cfg.CLISocket == "" {
		return nil, errors.New("no CLI socket configured")
	}
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.Dial("unix", v.cfg.CLISocket)
		if err == nil || time.Now().After(deadline) {
			return c, err
		}
		select {
		case <-v.done:
			return nil, fmt.Errorf("qemu exited before its CLI socket accepted: %w", err)
		case <-time.After(50 * time.Millisecond): // polling a socket path QEMU creates: no event to wait on
		}
	}
}
