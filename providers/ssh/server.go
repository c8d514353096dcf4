package ssh

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/drsync/drsync/schema"
)

// Server is an OpenSSH sshd of its own (host key, config, authorized key,
// forced command) on 127.0.0.1, standing in for a backup host: tests and
// sandboxes start one over a directory on btrfs.
type Server struct {
	// Target is how drsync reaches it: a declared ssh target.
	Target schema.Target
	// Dir holds the keys, the config, the filter and the log.
	Dir string
	cmd *exec.Cmd
}

// SSHD is the server binary (Debian's openssh-server).
const SSHD = "/usr/sbin/sshd"

// StartServer starts sshd on 127.0.0.1:port serving root (the target's
// path) through the generated filter, logging in as root, which the
// config allows for forced commands only. Everything it needs is written
// into dir. Stop it with Stop.
func StartServer(ctx context.Context, dir, root string, port int) (*Server, error) {
	if _, err := os.Stat(SSHD); err != nil {
		return nil, fmt.Errorf("sshd: %w (install openssh-server)", err)
	}
	s := &Server{Dir: dir, Target: schema.Target{
		Kind: schema.TargetSSH, Host: "127.0.0.1", Port: port, User: "root", Path: root,
		IdentityFile: filepath.Join(dir, "id_ed25519"), KnownHosts: filepath.Join(dir, "known_hosts"),
	}}
	hostKey := filepath.Join(dir, "host_ed25519")
	for _, key := range []string{hostKey, s.Target.IdentityFile} {
		if out, err := exec.CommandContext(ctx, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "drsync-test", "-f", key).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("ssh-keygen: %v: %s", err, out)
		}
	}
	hostPub, err := os.ReadFile(hostKey + ".pub")
	if err != nil {
		return nil, err
	}
	// known_hosts pins the host key: no trust on first use.
	fields := strings.Fields(string(hostPub))
	known := fmt.Sprintf("[127.0.0.1]:%d %s %s\n", port, fields[0], fields[1])
	if err := os.WriteFile(s.Target.KnownHosts, []byte(known), 0o644); err != nil {
		return nil, err
	}
	filter := filepath.Join(dir, "drsync-ssh-filter")
	if err := os.WriteFile(filter, Filter("test", root), 0o755); err != nil {
		return nil, err
	}
	clientPub, err := os.ReadFile(s.Target.IdentityFile + ".pub")
	if err != nil {
		return nil, err
	}
	authorized := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authorized, []byte(AuthorizedKey(filter, string(clientPub))+"\n"), 0o600); err != nil {
		return nil, err
	}
	config := strings.Join([]string{
		"Port " + strconv.Itoa(port),
		"ListenAddress 127.0.0.1",
		"HostKey " + hostKey,
		"PidFile " + filepath.Join(dir, "sshd.pid"),
		"AuthorizedKeysFile " + authorized,
		"PermitRootLogin forced-commands-only",
		"PubkeyAuthentication yes",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"UsePAM no",
		// The files live in a temporary directory under /tmp, which
		// StrictModes would reject for being below a world-writable one.
		"StrictModes no",
		// sshd runs the forced command through root's login shell; bash
		// run by sshd with SHLVL unset sources ~/.bashrc, whose cost (a
		// pyenv init waits up to 60 s on a stale rehash lock) is not the
		// filter's. SHLVL=1 makes the shell count as nested: no rc file.
		"SetEnv SHLVL=1",
		"",
	}, "\n")
	configFile := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(configFile, []byte(config), 0o600); err != nil {
		return nil, err
	}
	// sshd's privilege separation needs this directory (Debian makes it
	// in its unit, which is not running here).
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return nil, err
	}
	log, err := os.Create(filepath.Join(dir, "sshd.log"))
	if err != nil {
		return nil, err
	}
	defer log.Close()
	s.cmd = exec.Command(SSHD, "-D", "-e", "-f", configFile)
	s.cmd.Stdout, s.cmd.Stderr = log, log
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start sshd: %w", err)
	}
	if err := waitListening(ctx, fmt.Sprintf("127.0.0.1:%d", port)); err != nil {
		_ = s.Stop()
		out, _ := os.ReadFile(log.Name())
		return nil, fmt.Errorf("sshd: %w: %s", err, out)
	}
	return s, nil
}

func waitListening(ctx context.Context, addr string) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("not listening on %s after 10s", addr)
}

// Kill stops the server and every session it runs at once, as a crash or
// a pulled cable would: sshd puts each connection in a session of its
// own, so its descendants are killed one by one, then its process group.
func (s *Server) Kill() error {
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	for _, pid := range descendants(s.cmd.Process.Pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	err := syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	_ = s.cmd.Wait()
	s.cmd = nil
	return err
}

// Stop ends the server.
func (s *Server) Stop() error {
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	s.cmd = nil
	return nil
}

// Cmd is the running sshd (nil after Stop or Kill), for a caller that lets
// it outlive this process and stops it by pid later.
func (s *Server) Cmd() *exec.Cmd { return s.cmd }

// descendants lists the processes below pid, read from /proc.
func descendants(pid int) []int {
	parent := map[int]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so cut after ")".
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(f) > 1 {
			parent[p], _ = strconv.Atoi(f[1])
		}
	}
	var out []int
	for p := range parent {
		for q := parent[p]; q > 1; q = parent[q] {
			if q == pid {
				out = append(out, p)
				break
			}
		}
	}
	return out
}
