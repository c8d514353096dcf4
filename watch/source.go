package watch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage/memory"
)

// source is where revisions of the desired state come from. A revision is
// also the name of its staged directory.
type source interface {
	kind() string
	describe() string
	// head returns the newest revision cheaply, without staging it.
	head(ctx context.Context) (string, error)
	// stage writes the newest revision into the empty directory dir and
	// returns its revision, which may be newer than head's.
	stage(ctx context.Context, dir string) (string, error)
	// desired is the desired-state path inside a staged directory.
	desired(dir string) string
}

// gitSource follows one branch of a repository.
type gitSource struct {
	url, branch, path string
}

func newGitSource(repo, branch, path string) (*gitSource, error) {
	url := repo
	// A relative local path would change meaning with the working
	// directory; URLs (with a scheme or scp-like user@host:) pass as given.
	if _, err := os.Stat(repo); err == nil {
		abs, err := filepath.Abs(repo)
		if err != nil {
			return nil, fmt.Errorf("repository %s: %w", repo, err)
		}
		url = abs
	}
	return &gitSource{url: url, branch: branch, path: path}, nil
}

func (g *gitSource) kind() string { return "commit" }

func (g *gitSource) describe() string {
	return fmt.Sprintf("%s@%s:%s", Redact(g.url), g.branch, g.path)
}

func (g *gitSource) desired(dir string) string { return filepath.Join(dir, g.path) }

// head lists the remote's refs (git ls-remote), which costs one round trip
// and no objects, so polling often is cheap.
func (g *gitSource) head(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, listTimeout)
	defer cancel()
	remote := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{g.url}})
	refs, err := remote.ListContext(ctx, &git.ListOptions{})
	if err != nil {
		return "", fmt.Errorf("listing refs: %s", Redact(err.Error()))
	}
	want := plumbing.NewBranchReferenceName(g.branch)
	for _, ref := range refs {
		if ref.Name() == want && ref.Type() == plumbing.HashReference {
			return ref.Hash().String(), nil
		}
	}
	return "", fmt.Errorf("no branch %s", g.branch)
}

// stage clones the branch at depth 1 into dir. A fresh clone each time,
// because go-git cannot fetch into a shallow clone; the desired state is a
// few files, so this is cheap.
func (g *gitSource) stage(ctx context.Context, dir string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, cloneTimeout)
	defer cancel()
	repo, err := git.PlainCloneContext(ctx, dir, false, &git.CloneOptions{
		URL:           g.url,
		ReferenceName: plumbing.NewBranchReferenceName(g.branch),
		SingleBranch:  true,
		Depth:         1,
		Tags:          git.NoTags,
	})
	if err != nil {
		return "", fmt.Errorf("cloning %s: %s", g.branch, Redact(err.Error()))
	}
	head, err := repo.Head()
	if err != nil {
		return "", fmt.Errorf("cloning %s: %w", g.branch, err)
	}
	return head.Hash().String(), nil
}

// fileSource follows a local file, or the .cue files of a directory. Its
// revision is a hash of their content, and staging copies exactly the
// content that was hashed, so what was validated is what is reconciled
// even if the file is saved again meanwhile.
type fileSource struct {
	path  string // absolute
	isDir bool
}

func newFileSource(path string) (*fileSource, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("desired state %s: %w", path, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("desired state: %w", err)
	}
	return &fileSource{path: abs, isDir: st.IsDir()}, nil
}

func (f *fileSource) kind() string { return "file revision" }

func (f *fileSource) describe() string { return f.path }

func (f *fileSource) desired(dir string) string { return filepath.Join(dir, filepath.Base(f.path)) }

// relevant reports whether an event on name concerns the desired state.
func (f *fileSource) relevant(name string) bool {
	if f.isDir {
		return filepath.Dir(name) == f.path && strings.HasSuffix(name, ".cue")
	}
	return name == f.path
}

func (f *fileSource) head(context.Context) (string, error) {
	rev, _, err := f.read()
	return rev, err
}

// read returns the revision and the content it hashes, by base name.
func (f *fileSource) read() (string, map[string][]byte, error) {
	files := map[string][]byte{}
	if f.isDir {
		matches, err := filepath.Glob(filepath.Join(f.path, "*.cue"))
		if err != nil {
			return "", nil, fmt.Errorf("reading %s: %w", f.path, err)
		}
		for _, m := range matches {
			b, err := os.ReadFile(m)
			if err != nil {
				return "", nil, fmt.Errorf("reading desired state: %w", err)
			}
			files[filepath.Base(m)] = b
		}
	} else {
		b, err := os.ReadFile(f.path)
		if err != nil {
			return "", nil, fmt.Errorf("reading desired state: %w", err)
		}
		files[filepath.Base(f.path)] = b
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(files[n]))
		h.Write(files[n])
	}
	return "sha256-" + hex.EncodeToString(h.Sum(nil))[:16], files, nil
}

func (f *fileSource) stage(_ context.Context, dir string) (string, error) {
	rev, files, err := f.read()
	if err != nil {
		return "", err
	}
	target := dir
	if f.isDir {
		target = f.desired(dir)
		if err := os.Mkdir(target, 0o755); err != nil {
			return "", fmt.Errorf("staging: %w", err)
		}
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(target, name), b, 0o644); err != nil {
			return "", fmt.Errorf("staging: %w", err)
		}
	}
	return rev, nil
}

// symlinksStayInside checks that every symlink of a staged checkout resolves
// to a path inside it. A committed symlink (drsync.cue → ../../etc/…) must
// not make root read, and show in errors, a file outside the repository.
func symlinksStayInside(dir string) error {
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("checking the checkout: %w", err)
	}
	return filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("checking the checkout: %w", err)
		}
		if e.IsDir() && e.Name() == ".git" && filepath.Dir(p) == root {
			return filepath.SkipDir
		}
		if e.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		target, err := filepath.EvalSymlinks(p)
		if err != nil {
			return fmt.Errorf("%s in the repository is a symlink that does not resolve: %w", rel, err)
		}
		if t, err := filepath.Rel(root, target); err != nil || !filepath.IsLocal(t) {
			link, _ := os.Readlink(p)
			return fmt.Errorf("%s in the repository is a symlink to %s, outside the repository: refused", rel, link)
		}
		return nil
	})
}
