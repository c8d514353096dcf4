package s3

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Server is a versitygw S3 gateway over a directory (its posix backend) on
// 127.0.0.1, standing in for the off-site bucket in tests and sandboxes.
type Server struct {
	Endpoint string
	// Credentials is a file in the format credentialsFile wants.
	Credentials string
	// Data is the directory holding the buckets: what a thief of the
	// bucket would see.
	Data   string
	addr   string
	region string
	key    string
	cmd    *exec.Cmd
	log    string
}

// Versitygw finds the versitygw binary: on PATH, else where go install
// puts it.
func Versitygw() (string, error) {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	var dirs []string
	if d := os.Getenv("GOBIN"); d != "" {
		dirs = append(dirs, d)
	}
	if d := os.Getenv("GOPATH"); d != "" {
		dirs = append(dirs, filepath.Join(d, "bin"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, "versitygw")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("versitygw not found (scripts/install-deps.sh installs it with go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)")
}

// StartServer starts versitygw on addr (127.0.0.1:PORT) over dir/data
// with fresh credentials written to dir/credentials.
func StartServer(ctx context.Context, dir, addr string) (*Server, error) {
	return StartServerIn(ctx, dir, addr, "")
}

// StartServerIn is StartServer for a region ("": versitygw's default,
// us-east-1): a client declaring another region is refused by the server.
func StartServerIn(ctx context.Context, dir, addr, region string) (*Server, error) {
	bin, err := Versitygw()
	if err != nil {
		return nil, err
	}
	s := &Server{Endpoint: "http://" + addr, Data: filepath.Join(dir, "data"), Credentials: filepath.Join(dir, "credentials"),
		addr: addr, region: region, log: filepath.Join(dir, "versitygw.log")}
	if err := os.MkdirAll(s.Data, 0o700); err != nil {
		return nil, err
	}
	secret := make([]byte, 20)
	rand.Read(secret)
	s.key = hex.EncodeToString(secret)
	creds := fmt.Sprintf("access_key_id = drsync\nsecret_access_key = %s\n", s.key)
	if err := os.WriteFile(s.Credentials, []byte(creds), 0o600); err != nil {
		return nil, err
	}
	return s, s.start(ctx, bin)
}

func (s *Server) start(ctx context.Context, bin string) error {
	log, err := os.OpenFile(s.log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer log.Close()
	// The secret reaches versitygw through its environment, not argv.
	s.cmd = exec.Command(bin, "--port", s.addr, "posix", s.Data)
	s.cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY_ID=drsync", "ROOT_SECRET_ACCESS_KEY="+s.key)
	if s.region != "" {
		s.cmd.Env = append(s.cmd.Env, "VGW_REGION="+s.region)
	}
	s.cmd.Stdout, s.cmd.Stderr = log, log
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start versitygw: %w", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if c, err := net.DialTimeout("tcp", s.addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = s.Kill()
	out, _ := os.ReadFile(s.log)
	return fmt.Errorf("versitygw not listening on %s: %s", s.addr, out)
}

// Restart starts the server again over the same data after Kill.
func (s *Server) Restart(ctx context.Context) error {
	bin, err := Versitygw()
	if err != nil {
		return err
	}
	return s.start(ctx, bin)
}

// Kill stops the server at once, as a crash would.
func (s *Server) Kill() error {
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	err := syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	_ = s.cmd.Wait()
	s.cmd = nil
	return err
}

// Cmd is the running server process (nil after Kill), for a caller that
// lets it outlive this process and stops it by pid later.
func (s *Server) Cmd() *exec.Cmd { return s.cmd }

// CreateBucket makes a bucket on the server with its own credentials.
func (s *Server) CreateBucket(ctx context.Context, bucket string) error {
	client, err := minio.New(s.addr, &minio.Options{Creds: credentials.NewStaticV4("drsync", s.key, ""), Region: s.region})
	if err != nil {
		return err
	}
	if err := client.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
		return fmt.Errorf("create bucket %s on %s: %w", bucket, s.Endpoint, err)
	}
	return nil
}
