// Command offsitebench measures the off-site targets against the raw tools
// on the same data: drsync's encrypted, ETag-checked S3 upload against
// minio-go's plain PutObject to the same versitygw, its memory, and its
// ssh send against a bare `btrfs send | ssh …` through the same filter.
// It prints TARGET lines; it needs root, loop devices, sshd and versitygw.
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/drsync/drsync/providers/btrfs"
	"github.com/drsync/drsync/providers/s3"
	"github.com/drsync/drsync/providers/ssh"
	"github.com/drsync/drsync/sandbox"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/target"
)

func main() {
	sizeMiB := flag.Int("size", 256, "MiB of random data in the subvolume")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the S3 rounds to this file")
	flag.IntVar(&rounds, "rounds", 3, "rounds of each comparison (raw, then drsync) whose medians are compared")
	flag.Parse()
	if err := run(*sizeMiB); err != nil {
		fmt.Fprintln(os.Stderr, "offsitebench:", err)
		os.Exit(1)
	}
}

// cpuProfile is where the S3 rounds' CPU profile goes ("": none).
var cpuProfile string

// rounds is how many times each raw and each drsync transfer runs.
var rounds int

func run(sizeMiB int) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "offsitebench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fsSize := 2*sizeMiB + 256
	local, remote := filepath.Join(dir, "local"), filepath.Join(dir, "remote")
	if err := sandbox.Up(ctx, dir, sandbox.Layout{Filesystems: []sandbox.Filesystem{{MountPoint: local, SizeMiB: fsSize}, {MountPoint: remote, SizeMiB: 2*rounds*sizeMiB + 512}}}); err != nil {
		return err
	}
	defer sandbox.Down(context.Background(), dir)

	src := filepath.Join(local, "home")
	if err := btrfs.Create(ctx, src); err != nil {
		return err
	}
	data := make([]byte, 1<<20)
	f, err := os.Create(filepath.Join(src, "data"))
	if err != nil {
		return err
	}
	for range sizeMiB {
		rand.Read(data)
		f.Write(data)
	}
	f.Close()
	os.Mkdir(filepath.Join(local, "snapshots"), 0o755)
	snap := target.Snapshot{Subvolume: "home", Name: "home.20261122T0200", Path: filepath.Join(local, "snapshots", "home.20261122T0200")}
	if err := btrfs.Snapshot(ctx, src, snap.Path); err != nil {
		return err
	}
	if err := benchS3(ctx, dir, snap); err != nil {
		return err
	}
	return benchSSH(ctx, dir, remote, snap)
}

func benchS3(ctx context.Context, dir string, snap target.Snapshot) error {
	srv, err := s3.StartServer(ctx, filepath.Join(dir, "s3"), freeAddr())
	if err != nil {
		return err
	}
	defer srv.Kill()
	creds, _ := os.ReadFile(srv.Credentials)
	secret := strings.TrimSpace(strings.SplitN(string(creds), "secret_access_key = ", 2)[1])
	mc, err := minio.New(strings.TrimPrefix(srv.Endpoint, "http://"), &minio.Options{Creds: credentials.NewStaticV4("drsync", secret, "")})
	if err != nil {
		return err
	}
	// Raw: the same send stream, from a file, with PutObject.
	stream := filepath.Join(dir, "stream")
	out, err := os.Create(stream)
	if err != nil {
		return err
	}
	send := exec.Command("btrfs", "send", "-q", snap.Path)
	send.Stdout = out
	if err := send.Run(); err != nil {
		return err
	}
	out.Close()
	defer os.Remove(stream)
	st, err := os.Stat(stream)
	if err != nil {
		return err
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	// The machine is shared: raw and drsync uploads alternate, each into
	// a bucket of its own, and the medians are compared.
	id, _ := age.GenerateX25519Identity()
	var raws, ours []time.Duration
	var n int64
	for round := range rounds {
		bucket := fmt.Sprintf("bench-%d", round)
		if err := mc.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
			return err
		}
		in, err := os.Open(stream)
		if err != nil {
			return err
		}
		start := time.Now()
		_, err = mc.PutObject(ctx, bucket, "raw", in, st.Size(), minio.PutObjectOptions{PartSize: 16 << 20})
		in.Close()
		if err != nil {
			return err
		}
		raws = append(raws, time.Since(start))
		tgt, err := s3.New("bench", schema.Target{Kind: schema.TargetS3, Endpoint: srv.Endpoint, Bucket: bucket, CredentialsFile: srv.Credentials,
			PartSizeMiB: 16, FullEvery: 8, Encryption: &schema.Encryption{Recipients: []string{id.Recipient().String()}}})
		if err != nil {
			return err
		}
		start = time.Now()
		if n, err = tgt.Receive(ctx, snap, "", nil); err != nil {
			return err
		}
		ours = append(ours, time.Since(start))
		fmt.Printf("s3 round %d: raw PutObject %.2fs, drsync %.2fs\n", round+1, raws[round].Seconds(), ours[round].Seconds())
	}
	pprof.StopCPUProfile()
	raw, our := median(raws), median(ours)
	rawRate, ourRate := float64(st.Size())/raw.Seconds(), float64(n)/our.Seconds()
	fmt.Printf("s3 (median of %d): raw PutObject %d MiB in %.2fs (%.0f MiB/s); drsync encrypted upload with ETag checks %d MiB in %.2fs (%.0f MiB/s)\n",
		rounds, st.Size()>>20, raw.Seconds(), rawRate/(1<<20), n>>20, our.Seconds(), ourRate/(1<<20))
	report("s3-upload-throughput", ourRate/rawRate, ">= 0.80 of raw PutObject", ourRate/rawRate >= 0.8, "%.2f×")
	hwm := peakRSS()
	report("s3-upload-memory-MiB", float64(hwm)/(1<<20), "< 256 MiB at 16 MiB parts", hwm < 256<<20, "%.0f")
	return nil
}

func benchSSH(ctx context.Context, dir, remote string, snap target.Snapshot) error {
	root := filepath.Join(remote, "drsync")
	os.Mkdir(root, 0o755)
	port, _ := strconv.Atoi(freeAddr()[len("127.0.0.1:"):])
	sshDir := filepath.Join(dir, "ssh")
	if err := os.Mkdir(sshDir, 0o700); err != nil {
		return err
	}
	srv, err := ssh.StartServer(ctx, sshDir, root, port)
	if err != nil {
		return err
	}
	defer srv.Stop()
	c := srv.Target
	// Raw: what a person types, through the same forced command. Raw and
	// drsync sends alternate, each round into subvolume names of its own,
	// and the medians are compared.
	var raws, ours []time.Duration
	for round := range rounds {
		rawCmd := fmt.Sprintf("btrfs send -q %s | ssh -F none -i %s -p %d -l %s -o BatchMode=yes -o UserKnownHostsFile=%s -T %s 'drsync receive raw-%d %s'",
			snap.Path, c.IdentityFile, c.Port, c.User, c.KnownHosts, c.Host, round, snap.Name)
		start := time.Now()
		if out, err := exec.Command("sh", "-c", rawCmd).CombinedOutput(); err != nil {
			return fmt.Errorf("raw ssh send: %v: %s", err, out)
		}
		raws = append(raws, time.Since(start))
		// The same snapshot under another subvolume name: a full send
		// into a directory of its own on the host.
		named := snap
		named.Subvolume = fmt.Sprintf("%s-%d", snap.Subvolume, round)
		start = time.Now()
		if _, err := ssh.New("bench", c).Receive(ctx, named, "", nil); err != nil {
			return err
		}
		ours = append(ours, time.Since(start))
		fmt.Printf("ssh round %d: raw btrfs send | ssh %.2fs, drsync %.2fs\n", round+1, raws[round].Seconds(), ours[round].Seconds())
	}
	start := time.Now()
	if err := ssh.New("bench", c).Probe(ctx); err != nil {
		return err
	}
	raw, our := median(raws), median(ours)
	fmt.Printf("ssh (median of %d): raw btrfs send | ssh %.2fs; drsync send (with its commit) %.2fs; one connection (probe) %.2fs\n",
		rounds, raw.Seconds(), our.Seconds(), time.Since(start).Seconds())
	report("ssh-send-time", our.Seconds()/raw.Seconds(), "<= 1.10 of raw btrfs send | ssh", our.Seconds() <= 1.10*raw.Seconds(), "%.2f×")
	return nil
}

func report(name string, measured float64, target string, pass bool, format string) {
	verdict := "FAIL"
	if pass {
		verdict = "PASS"
	}
	fmt.Printf("TARGET %s: "+format+" (target %s) %s\n", name, measured, target, verdict)
}

// peakRSS is this process's high-water resident set (VmHWM).
func peakRSS() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// median is the middle duration (the upper one of an even count).
func median(ds []time.Duration) time.Duration {
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	return sorted[len(sorted)/2]
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}
