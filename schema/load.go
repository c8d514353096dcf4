// Package schema embeds the CUE schema of the desired state, loads a user's
// CUE files against it (with -t tag injection as `cue export -t` does) and
// decodes the result into Desired. Every error names file:line:col.
package schema

import (
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/load"
	"cuelang.org/go/cue/token"
)

//go:embed *.cue
var Files embed.FS

// SchemaFile is the name the embedded schema carries in error positions.
const SchemaFile = "schema/drsync.cue"

// DefaultFile is read when no -f is given.
const DefaultFile = "drsync.cue"

// Error is a list of positioned problems in a desired state.
type Error struct {
	Problems []Problem
}

// Problem is one positioned message: "file:line:col: path: message".
type Problem struct {
	Pos     string `json:"pos,omitempty"`
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Pos != "" {
		b.WriteString(p.Pos + ": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Load reads a desired-state file, or a directory holding the .cue files of
// one package, unifies it with #Desired and decodes it. tags are
// "key=value" strings injected into @tag() fields.
func Load(path string, tags []string) (*Desired, error) {
	return LoadHost(path, tags, "")
}

// LoadHost is Load for the machine called host: in a fleet file (one that
// declares hosts) it reads that host's part; an empty host in a fleet file
// is an error naming the hosts to choose from.
func LoadHost(path string, tags []string, host string) (*Desired, error) {
	v, user, err := loadValue(path, tags, host)
	if err != nil {
		return nil, err
	}
	var d Desired
	if err := v.Decode(&d); err != nil {
		// Decoding fails on what CUE's types allow but Go cannot hold (an
		// integer beyond 64 bits): find the field, in the user's file.
		if probs := leafProblems(v, user); len(probs) > 0 {
			sortProblems(probs)
			return nil, &Error{Problems: probs}
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	d.Source = path
	if host != "" {
		d.Host = host
	}
	d.clean()
	if len(d.Subvolumes) == 0 && len(d.Services) == 0 {
		return nil, &Error{Problems: []Problem{{Pos: startOf(path, user),
			Message: "declares no subvolumes and no services: nothing to back up (is this the desired state?)"}}}
	}
	if probs := append(append(append(references(v, user), targetReferences(v)...), d.check(v, user)...), append(d.checkAlerting(v), d.checkRecovery(v, user)...)...); len(probs) > 0 {
		sortProblems(probs)
		return nil, &Error{Problems: probs}
	}
	return &d, nil
}

// Value returns the user's state unified with #Desired and validated as
// concrete, before decoding.
func Value(path string, tags []string) (cue.Value, error) {
	v, _, err := loadValue(path, tags, "")
	return v, err
}

// loadValue returns the unified, validated value of one host (see
// selectHost) and the user's own value (whose positions are the user's
// files).
func loadValue(path string, tags []string, host string) (unified, user cue.Value, err error) {
	if user, err = userValue(path, tags); err != nil {
		return cue.Value{}, cue.Value{}, err
	}
	src, err := Files.ReadFile("drsync.cue")
	if err != nil {
		return cue.Value{}, cue.Value{}, fmt.Errorf("reading embedded schema: %w", err)
	}
	schema := user.Context().CompileBytes(src, cue.Filename(SchemaFile))
	if schema.Err() != nil {
		return cue.Value{}, cue.Value{}, fmt.Errorf("embedded schema: %w", schema.Err())
	}
	if user, err = selectHost(user, path, host); err != nil {
		return cue.Value{}, cue.Value{}, err
	}
	v := schema.LookupPath(cue.ParsePath("#Desired")).Unify(userDefaults(user))
	if err := v.Validate(cue.Concrete(true)); err != nil {
		// Report the broken references too, so one pass shows everything.
		if e, ok := cueError(err, user).(*Error); ok {
			e.Problems = append(append(e.Problems, references(user, user)...), targetReferences(user)...)
			sortProblems(e.Problems)
			return cue.Value{}, cue.Value{}, e
		}
		return cue.Value{}, cue.Value{}, cueError(err, user)
	}
	return v, user, nil
}

// noTag is CUE's complaint about a -t key no @tag() in the files declares.
var noTag = regexp.MustCompile(`no tag for "([^"]*)"`)

// undeclaredTag turns CUE's `no tag for "root"` into what the user can do
// about it, positioned at the file, or returns nil for other errors.
func undeclaredTag(err error, files []string) error {
	m := noTag.FindStringSubmatch(err.Error())
	if m == nil {
		return nil
	}
	where := files[0]
	if len(files) > 1 {
		where = filepath.Dir(files[0])
	}
	return &Error{Problems: []Problem{{Pos: relName(files[0]) + ":1:1",
		Message: fmt.Sprintf("-t %s=…: the tag %q is not declared by %s; declare it, e.g. %s: *\"\" | string @tag(%s)", m[1], m[1], where, m[1], m[1])}}}
}

// userValue builds the user's files, with tags, as written.
func userValue(path string, tags []string) (cue.Value, error) {
	files, err := inputFiles(path)
	if err != nil {
		return cue.Value{}, err
	}
	insts := load.Instances(files, &load.Config{Tags: tags})
	if len(insts) != 1 {
		return cue.Value{}, fmt.Errorf("%s: expected one CUE package, found %d", path, len(insts))
	}
	if insts[0].Err != nil {
		if e := undeclaredTag(insts[0].Err, files); e != nil {
			return cue.Value{}, e
		}
		return cue.Value{}, cueError(insts[0].Err, cue.Value{})
	}
	user := cuecontext.New().BuildInstance(insts[0])
	if user.Err() != nil {
		return cue.Value{}, cueError(user.Err(), user)
	}
	return user, nil
}

// inputFiles expands a directory into its .cue files so that a directory
// needs no cue.mod of its own.
func inputFiles(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		if os.IsNotExist(err) && path == DefaultFile {
			return nil, fmt.Errorf("no %s here; name a desired-state file with -f FILE", DefaultFile)
		}
		return nil, fmt.Errorf("desired state: %w", err)
	}
	if !st.IsDir() {
		if filepath.Ext(path) != ".cue" {
			return nil, fmt.Errorf("%s: not a .cue file: drsync reads CUE (convert YAML or JSON with `cue import`)", path)
		}
		return []string{path}, nil
	}
	matches, err := filepath.Glob(filepath.Join(path, "*.cue"))
	if err != nil {
		return nil, err
	}
	if len(matches) == 0 {
		return nil, fmt.Errorf("%s: no .cue files in directory", path)
	}
	sort.Strings(matches)
	return matches, nil
}

// cueError turns CUE's errors into Problems, one per error, positioned in
// the user's files where possible: an error raised by a schema constraint
// is moved to where the user wrote the offending field.
func cueError(err error, user cue.Value) error {
	var probs []Problem
	seen := map[string]bool{}
	for _, e := range cueerrors.Errors(err) {
		format, args := e.Msg()
		path := e.Path()
		if len(path) > 0 && path[0] == "#Desired" {
			path = path[1:]
		}
		p := Problem{
			Pos:     bestPos(e, user, path),
			Path:    strings.Join(path, "."),
			Message: fmt.Sprintf(format, args...),
		}
		if p.Message == "" {
			p.Message = e.Error()
		}
		p.Message = friendlier(p.Message, path)
		if key := p.String(); !seen[key] {
			seen[key] = true
			probs = append(probs, p)
		}
	}
	if len(probs) == 0 {
		return err
	}
	return &Error{Problems: withoutDisjunctionNoise(probs)}
}

// disjunctionNoise is what CUE adds when a user's value fails a field that
// also has a schema default: "2 errors in empty disjunction:" and the
// conflict with the default nobody wrote.
var disjunctionNoise = regexp.MustCompile(`^(\d+ errors in empty disjunction:?|conflicting values .* and .*)$`)

// withoutDisjunctionNoise drops that noise for a field that has a real
// problem of its own.
func withoutDisjunctionNoise(probs []Problem) []Problem {
	real := map[string]bool{}
	for _, p := range probs {
		if !disjunctionNoise.MatchString(p.Message) {
			real[p.Path] = true
		}
	}
	out := probs[:0]
	for _, p := range probs {
		if !real[p.Path] || !disjunctionNoise.MatchString(p.Message) {
			out = append(out, p)
		}
	}
	return out
}

func bestPos(e cueerrors.Error, user cue.Value, path []string) string {
	positions := append([]token.Pos{e.Position()}, e.InputPositions()...)
	if user.Exists() && len(path) > 0 {
		for p := cue.ParsePath(strings.Join(path, ".")); len(p.Selectors()) > 0; p = cue.MakePath(p.Selectors()[:len(p.Selectors())-1]...) {
			if pos := user.LookupPath(p).Pos(); pos.IsValid() {
				positions = append(positions, pos)
				break
			}
		}
	}
	var fallback string
	for _, p := range positions {
		if !p.IsValid() {
			continue
		}
		s := formatPos(p)
		if p.Filename() != SchemaFile {
			return s
		}
		if fallback == "" {
			fallback = s
		}
	}
	return fallback
}

func formatPos(p token.Pos) string {
	return fmt.Sprintf("%s:%d:%d", relName(p.Filename()), p.Line(), p.Column())
}

// relName is a file's name relative to the working directory when it lies
// below it, as the user most likely typed it.
func relName(name string) string {
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, name); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
	}
	return name
}

// Export writes the embedded schema into dir and returns the file's path.
func Export(dir string) (string, error) {
	src, err := Files.ReadFile("drsync.cue")
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("schema export: %w", err)
	}
	path := filepath.Join(dir, "drsync.cue")
	if err := os.WriteFile(path, src, 0o644); err != nil {
		return "", fmt.Errorf("schema export: %w", err)
	}
	return path, nil
}

// hints replace a pattern's regular expression, which explains nothing to
// a person, by what the field wants; keyed by the field's name.
var hints = map[string]string{
	"schedule":   `a schedule: "every 6h", "hourly", "daily 02:00", "weekly sun 03:00" or "monthly 1 04:00"`,
	"rpo":        `a duration like "90m", "36h", "7d" or "2w"`,
	"rto":        `a duration like "90m", "36h", "7d" or "2w"`,
	"every":      `a duration like "90m", "36h", "7d" or "2w"`,
	"keepFailed": `a duration like "90m", "36h", "7d" or "2w"`,
	"min":        `"all", "latest", or an age like "2d" (h, d, w, m, y)`,
	"uuid":       `a filesystem UUID like "4f1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e5f" (blkid shows it)`,
	"name":       `a name of letters, digits, ".", "_" and "-", without "/" or ".."`,
}

func friendlier(msg string, path []string) string {
	if len(path) == 0 {
		return msg
	}
	last := path[len(path)-1]
	switch {
	case msg == "field not allowed":
		// The misspelt field is the last one the schema does not know
		// (a nested field below it may be a known name, such as daily).
		for i := len(path) - 1; i >= 0; i-- {
			if known(path[i]) {
				continue
			}
			if near := nearestField(path[i]); near != "" {
				return fmt.Sprintf("field %q not allowed (did you mean %q?)", path[i], near)
			}
		}
		return msg
	case strings.Contains(msg, " and string (mismatched types") && strings.HasSuffix(msg, "and string)"):
		return msg + ": quote it, names are strings"
	case !strings.Contains(msg, "out of bound =~") && !strings.Contains(msg, "out of bound !~"):
		return msg
	}
	value, _, _ := strings.Cut(strings.TrimPrefix(msg, "invalid value "), " (out of bound")
	switch {
	case strings.Contains(msg, `!~"[[:cntrl:]]"`):
		return fmt.Sprintf("invalid value %s: control characters (newlines, tabs, escape sequences) are not allowed", value)
	case strings.Contains(msg, `!~"[\"'\\\\$]"`):
		return fmt.Sprintf("invalid value %s: systemd runs no program whose path holds a quote, a backslash or a $", value)
	}
	if hint, ok := hints[last]; ok {
		return fmt.Sprintf("invalid value %s: want %s", value, hint)
	}
	if strings.Contains(msg, `=~"^/"`) {
		return fmt.Sprintf("invalid value %s: want an absolute path", value)
	}
	return msg
}

// fieldName finds the field names the schema declares.
var fieldName = regexp.MustCompile(`(?m)^\s*([a-zA-Z]+)\??:`)

// schemaFields returns the field names the schema declares.
func schemaFields() []string {
	src, err := Files.ReadFile("drsync.cue")
	if err != nil {
		return nil
	}
	var out []string
	for _, m := range fieldName.FindAllStringSubmatch(string(src), -1) {
		out = append(out, m[1])
	}
	return out
}

func known(name string) bool {
	for _, f := range schemaFields() {
		if f == name {
			return true
		}
	}
	return false
}

// nearestField suggests a declared field within two edits of a misspelt
// one, or "".
func nearestField(name string) string {
	best, bestDist := "", 3
	for _, f := range schemaFields() {
		if d := editDistance(strings.ToLower(name), strings.ToLower(f)); d < bestDist && f != name {
			best, bestDist = f, d
		}
	}
	return best
}

// editDistance is Levenshtein's distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// sortProblems orders problems by file position (line, then column), the
// order a person reads the file in.
func sortProblems(probs []Problem) {
	sort.SliceStable(probs, func(i, j int) bool {
		fi, li, ci := splitPos(probs[i].Pos)
		fj, lj, cj := splitPos(probs[j].Pos)
		if fi != fj {
			return fi < fj
		}
		if li != lj {
			return li < lj
		}
		return ci < cj
	})
}

func splitPos(pos string) (file string, line, col int) {
	parts := strings.Split(pos, ":")
	if len(parts) < 3 {
		return pos, 0, 0
	}
	line, _ = strconv.Atoi(parts[len(parts)-2])
	col, _ = strconv.Atoi(parts[len(parts)-1])
	return strings.Join(parts[:len(parts)-2], ":"), line, col
}
