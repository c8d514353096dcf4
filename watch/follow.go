package watch

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watch starts following the desired state. It watches the directory, not
// the file: editors save by writing a new file and renaming it over the
// old one, which ends a watch on the file itself. (Edits behind a symlink
// are not seen here; the interval's check picks them up.)
func (f *fileSource) watch() (*fsnotify.Watcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("following %s: %w", f.path, err)
	}
	dir := f.path
	if !f.isDir {
		dir = filepath.Dir(f.path)
	}
	if err := fw.Add(dir); err != nil {
		fw.Close()
		return nil, fmt.Errorf("following %s: %w", f.path, err)
	}
	return fw, nil
}

// follow turns each burst of events on the desired state into one request,
// once the burst has been quiet for the debounce time.
func (w *Watcher) follow(ctx context.Context, f *fileSource, fw *fsnotify.Watcher) {
	quiet := time.NewTimer(w.opts.Debounce)
	quiet.Stop()
	defer quiet.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-fw.Events:
			if !ok {
				return
			}
			if ev.Op != fsnotify.Chmod && f.relevant(filepath.Clean(ev.Name)) {
				quiet.Reset(w.opts.Debounce)
			}
		case err, ok := <-fw.Errors:
			if !ok {
				return
			}
			// An overflow loses events; the interval's check catches up.
			w.log.Warn("following desired state", "error", err)
		case <-quiet.C:
			w.request(checkSource)
		}
	}
}
