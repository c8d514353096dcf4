package diag

import (
	"slices"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
)

// TestMisspeltFieldGetsSuggestion: a field a closed struct refuses is
// named with the declared field it is within two edits of, positioned
// where the user wrote it.
func TestMisspeltFieldGetsSuggestion(t *testing.T) {
	user := cuecontext.New().CompileString("#S: {source: string}\nx: #S & {\n\tsorce: \"/a\"\n}\n", cue.Filename("user.cue"))
	err := FromCUE(user.Validate(), user, []string{"source", "schedule"})
	e, ok := err.(*Error)
	if !ok {
		t.Fatalf("got %T %v, want *Error", err, err)
	}
	want := Problem{Pos: "user.cue:3:2", Path: "x.sorce", Message: `field "sorce" not allowed (did you mean "source"?)`}
	if !slices.Contains(e.Problems, want) {
		t.Errorf("problems %+v lack %+v", e.Problems, want)
	}
	if got := FromCUE(user.Validate(), user, nil).Error(); got != "user.cue:3:2: x.sorce: field not allowed" {
		t.Errorf("without schema fields: %q", got)
	}
}

// TestPatternGetsHint: a value the schema's pattern refuses is positioned
// at the user's value, and the pattern is replaced by what the field wants.
func TestPatternGetsHint(t *testing.T) {
	ctx := cuecontext.New()
	user := ctx.CompileString("x: schedule: \"daily\"\n", cue.Filename("user.cue"))
	schema := ctx.CompileString("x: schedule: =~\"^daily [0-9]\"\n", cue.Filename(SchemaFile))
	got := FromCUE(schema.Unify(user).Validate(), user, nil).Error()
	want := `user.cue:1:14: x.schedule: invalid value "daily": want a schedule: "every 6h", "hourly", "daily 02:00", "weekly sun 03:00" or "monthly 1 04:00"`
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// TestSortReadsTheFileInOrder: by file, then line and column as numbers
// (line 10 comes after line 9).
func TestSortReadsTheFileInOrder(t *testing.T) {
	probs := []Problem{{Pos: "b.cue:1:1"}, {Pos: "a.cue:10:1"}, {Pos: "a.cue:9:5"}, {Pos: "a.cue:9:12"}, {Pos: ""}}
	Sort(probs)
	var got []string
	for _, p := range probs {
		got = append(got, p.Pos)
	}
	if want := []string{"", "a.cue:9:5", "a.cue:9:12", "a.cue:10:1", "b.cue:1:1"}; !slices.Equal(got, want) {
		t.Errorf("sorted %v, want %v", got, want)
	}
}

// TestPosInPrefersTheUserFile: a field the schema filled in is positioned
// at the nearest field above it that the user wrote.
func TestPosInPrefersTheUserFile(t *testing.T) {
	ctx := cuecontext.New()
	user := ctx.CompileString("a: {\n\tb: {}\n}\n", cue.Filename("user.cue"))
	schema := ctx.CompileString("a: b: c: *1 | int\n", cue.Filename(SchemaFile))
	v := schema.Unify(user)
	if got := PosIn(user, v, cue.ParsePath("a.b.c")); got != "user.cue:2:2" {
		t.Errorf("PosIn = %q, want the user's b at user.cue:2:2", got)
	}
}

func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"sorce", "source", 1}, {"scheduel", "schedule", 2}, {"tier", "", 4}, {"kitten", "sitting", 3}} {
		if got := editDistance(c.a, c.b); got != c.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}
