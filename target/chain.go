package target

import (
	"cmp"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
)

// Object storage holds a subvolume as chains of btrfs send streams: a full
// stream, then incrementals each from the one before, and a new chain
// every FullEvery sends so that a restore never replays an unbounded
// history. A chain's manifest is written after its newest stream, so a
// stream without a manifest entry is an interrupted upload, never a copy.
//
//	<prefix>subvolumes/<subvolume>/<chain>/manifest.json
//	<prefix>subvolumes/<subvolume>/<chain>/0000.<snapshot>.btrfs[.age]
//
// A chain is named after the snapshot of its full stream.

// ManifestVersion is the manifest format this build writes and reads.
const ManifestVersion = 1

// Manifest says what a chain holds.
type Manifest struct {
	Version   int      `json:"version"`
	Subvolume string   `json:"subvolume"`
	Chain     string   `json:"chain"`
	Encrypted bool     `json:"encrypted"`
	Streams   []Stream `json:"streams"`
}

// Stream is one send stream of a chain, as stored.
type Stream struct {
	Seq      int    `json:"seq"`
	Snapshot string `json:"snapshot"`
	// Parent is the snapshot the stream is incremental from; empty for
	// the full stream.
	Parent string `json:"parent,omitempty"`
	Key    string `json:"key"`
	// Size and SHA256 are of the object as stored (after encryption),
	// checked after upload and before any restore.
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Object is an object as listed by the store.
type Object struct {
	Key  string
	Size int64
}

// Layout names the objects of a target under its prefix.
type Layout struct {
	Prefix string
}

// SubvolumeDir is where all chains of a subvolume live.
func (l Layout) SubvolumeDir(subvolume string) string {
	return l.Prefix + "subvolumes/" + subvolume + "/"
}

// ManifestKey is the manifest of a chain.
func (l Layout) ManifestKey(subvolume, chain string) string {
	return l.SubvolumeDir(subvolume) + chain + "/manifest.json"
}

// StreamKey is the object of one stream.
func (l Layout) StreamKey(subvolume, chain string, seq int, snapshot string, encrypted bool) string {
	key := fmt.Sprintf("%s%s/%04d.%s.btrfs", l.SubvolumeDir(subvolume), chain, seq, snapshot)
	if encrypted {
		key += ".age"
	}
	return key
}

// ServiceDir is where a service's archives live.
func (l Layout) ServiceDir(service string) string {
	return l.Prefix + "services/" + service + "/"
}

// Chain is a chain as found in the store.
type Chain struct {
	Name     string
	Manifest Manifest
	// Restorable is how many streams, from the first, are present with
	// the size the manifest recorded: the snapshots of Streams[:Restorable]
	// can be restored.
	Restorable int
	// Broken says why a stream the manifest lists is unusable; the
	// snapshots from it on cannot be restored.
	Broken string
}

// Complete reports whether every stream of the manifest is present.
func (c Chain) Complete() bool { return c.Broken == "" && c.Restorable == len(c.Manifest.Streams) }

// Last is the newest snapshot of the chain, "" for an empty one.
func (c Chain) Last() string {
	if len(c.Manifest.Streams) == 0 {
		return ""
	}
	return c.Manifest.Streams[len(c.Manifest.Streams)-1].Snapshot
}

// Analyze groups a subvolume's objects into chains by their manifests.
// Objects that no manifest lists (streams of an interrupted upload, or a
// chain whose manifest was never written) are returned as leftovers, to be
// removed: nothing unlisted is ever taken for a copy. A manifest that is
// not for this subvolume or chain, or of an unknown version, makes its
// chain broken rather than trusted.
func Analyze(l Layout, subvolume string, objects []Object, manifests map[string]Manifest) (chains []Chain, leftovers []Object) {
	dir := l.SubvolumeDir(subvolume)
	byKey := map[string]Object{}
	for _, o := range objects {
		byKey[o.Key] = o
	}
	listed := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(manifests)) {
		m := manifests[name]
		c := Chain{Name: name, Manifest: m}
		listed[l.ManifestKey(subvolume, name)] = true
		switch {
		case m.Version != ManifestVersion:
			c.Broken = fmt.Sprintf("manifest version %d, this drsync reads %d", m.Version, ManifestVersion)
		case m.Subvolume != subvolume || m.Chain != name:
			c.Broken = fmt.Sprintf("manifest is for %s/%s, found under %s/%s", m.Subvolume, m.Chain, subvolume, name)
		}
		for i, s := range m.Streams {
			listed[s.Key] = true
			if c.Broken != "" {
				continue
			}
			o, ok := byKey[s.Key]
			switch {
			case !strings.HasPrefix(s.Key, dir+name+"/"):
				c.Broken = fmt.Sprintf("stream %d names %s, outside its chain", s.Seq, s.Key)
			case s.Seq != i || (i == 0) != (s.Parent == "") || (i > 0 && s.Parent != m.Streams[i-1].Snapshot):
				c.Broken = fmt.Sprintf("stream %d (%s) does not follow stream %d", s.Seq, s.Snapshot, i-1)
			case !ok:
				c.Broken = fmt.Sprintf("stream %d (%s) is missing", s.Seq, s.Snapshot)
			case o.Size != s.Size:
				c.Broken = fmt.Sprintf("stream %d (%s) is %d bytes, the manifest says %d", s.Seq, s.Snapshot, o.Size, s.Size)
			default:
				c.Restorable = i + 1
			}
		}
		chains = append(chains, c)
	}
	for _, o := range objects {
		if !listed[o.Key] && strings.HasPrefix(o.Key, dir) {
			leftovers = append(leftovers, o)
		}
	}
	slices.SortFunc(chains, func(a, b Chain) int { return cmp.Compare(a.Name, b.Name) })
	return chains, leftovers
}

// ChainOfManifest returns the chain name of a manifest key under dir, or
// "" when key is not a manifest.
func ChainOfManifest(l Layout, subvolume, key string) string {
	rest, ok := strings.CutPrefix(key, l.SubvolumeDir(subvolume))
	if !ok || path.Base(rest) != "manifest.json" || strings.Count(rest, "/") != 1 {
		return ""
	}
	return path.Dir(rest)
}

// Copies are the snapshots a subvolume's chains hold, oldest first: the
// restorable ones complete, those after a break marked broken.
func Copies(chains []Chain) []Copy {
	var out []Copy
	for _, c := range chains {
		for i, s := range c.Manifest.Streams {
			cp := Copy{Name: s.Snapshot, Complete: true, Bytes: s.Size, Chain: c.Name}
			if i >= c.Restorable {
				cp.Broken = c.Broken
			}
			out = append(out, cp)
		}
	}
	slices.SortStableFunc(out, func(a, b Copy) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// Send is how the next snapshot goes into the store.
type Send struct {
	Chain  string
	Seq    int
	Parent string // "" for a full stream
	Reason string
}

// NextSend decides whether snapshot extends the newest chain incrementally
// or starts a new chain with a full stream. It extends only a complete
// chain, shorter than fullEvery, whose newest snapshot is still local (the
// parent of the incremental stream).
func NextSend(chains []Chain, snapshot string, fullEvery int, local func(name string) bool) Send {
	full := func(reason string) Send { return Send{Chain: snapshot, Reason: reason} }
	if len(chains) == 0 {
		return full("first chain")
	}
	newest := chains[len(chains)-1]
	last := newest.Last()
	switch {
	case !newest.Complete():
		return full(fmt.Sprintf("chain %s is broken: %s", newest.Name, cmp.Or(newest.Broken, "incomplete")))
	case len(newest.Manifest.Streams) >= fullEvery:
		return full(fmt.Sprintf("chain %s holds %d streams (full every %d)", newest.Name, len(newest.Manifest.Streams), fullEvery))
	case last >= snapshot:
		return full(fmt.Sprintf("chain %s already reaches %s", newest.Name, last))
	case !local(last):
		return full(fmt.Sprintf("parent %s is no longer a local snapshot", last))
	}
	return Send{Chain: newest.Name, Seq: len(newest.Manifest.Streams), Parent: last,
		Reason: fmt.Sprintf("incremental from %s, stream %d of at most %d in chain %s", last, len(newest.Manifest.Streams)+1, fullEvery, newest.Name)}
}

// Prune returns the chains that may be deleted whole: those holding no
// snapshot that retention keeps. An object is never deleted while a kept
// snapshot needs it, so chains are never cut apart, and the newest complete
// chain stays (the next incremental extends it, and it is the newest copy).
func Prune(chains []Chain, keep func(snapshot string) bool) []Chain {
	newestComplete := ""
	for _, c := range chains {
		if c.Complete() && len(c.Manifest.Streams) > 0 {
			newestComplete = c.Name
		}
	}
	var out []Chain
	for _, c := range chains {
		if c.Name == newestComplete {
			continue
		}
		kept := slices.ContainsFunc(c.Manifest.Streams, func(s Stream) bool { return keep(s.Snapshot) })
		if !kept {
			out = append(out, c)
		}
	}
	return out
}

// PartSize sizes the parts of a multipart upload: the declared size, grown
// so that a stream of expected bytes fits in maxParts with room to spare
// (a stream may outgrow its estimate). Uploads still stop with an error
// before part maxParts+1 rather than truncate.
func PartSize(declared, expected int64, maxParts int) int64 {
	const headroom = 2 // the estimate may be short by half
	need := (expected*headroom + int64(maxParts) - 1) / int64(maxParts)
	const mib = 1 << 20
	need = (need + mib - 1) / mib * mib
	return max(declared, need)
}
