package strict

import (
	"encoding"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// The walk reads the document's syntax tree alongside the Go type it decodes
// into. It serves two purposes: finding the problems go-toml lets through or
// stops at (see Decode), and remembering where every key is (Locate), so that
// problems found later, by semantic checks, can still name a line.

type position struct{ line, col int }

type finding struct {
	line, col int
	path, msg string
}

type walker struct {
	p        unstable.Parser
	lines    lineIndex
	findings []finding
	// where maps an indexed key path ("stage[1].validate[0].path") to the
	// position of its key, or of its [[header]] for array-of-tables elements.
	where map[string]position
	// arrays counts the elements seen so far of each array of tables, by
	// indexed path, so that [[stage.validate]] lands in the last stage.
	arrays map[string]int
	// keys caches fields() per struct type: a document repeats its tables.
	keys map[reflect.Type]map[string]reflect.Type
}

var (
	durationType        = reflect.TypeFor[Duration]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// typeOf is the type a decode target points to, or nil for an untyped walk.
func typeOf(v any) reflect.Type {
	if v == nil {
		return nil
	}
	return deref(reflect.TypeOf(v))
}

// isSyntaxError reports whether data is not a TOML document at all.
func isSyntaxError(data []byte) bool {
	var p unstable.Parser
	p.Reset(data)
	for p.NextExpression() {
	}
	return p.Error() != nil
}

// walk visits every expression of data. root may be nil to only record
// positions. A document with a syntax error is walked up to the error.
func walk(data []byte, root reflect.Type) *walker {
	w := &walker{where: map[string]position{}, arrays: map[string]int{}, lines: newLineIndex(data),
		keys: map[reflect.Type]map[string]reflect.Type{}}
	w.p.Reset(data)
	var table string // indexed path of the current table
	tableT := root   // its type; nil when unknown or untyped
	typed := root != nil
	for w.p.NextExpression() {
		e := w.p.Expression()
		switch e.Kind {
		case unstable.KeyValue:
			w.keyValue(table, tableT, typed, e)
		case unstable.Table, unstable.ArrayTable:
			table, tableT = w.header(root, typed, e)
		}
	}
	return w
}

// pos is where n starts. The parser's own Shape counts lines from the start
// of the document on every call, which made a large document quadratic.
func (w *walker) pos(n *unstable.Node) position {
	return w.lines.at(int(n.Raw.Offset))
}

func (w *walker) remember(path string, at position) {
	if _, ok := w.where[path]; !ok {
		w.where[path] = at
	}
}

func (w *walker) report(at position, path, format string, args ...any) {
	w.findings = append(w.findings, finding{line: at.line, col: at.col, path: path, msg: fmt.Sprintf(format, args...)})
}

func join(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// header resolves a [table] or [[array.table]] header to its indexed path and type.
func (w *walker) header(root reflect.Type, typed bool, e *unstable.Node) (string, reflect.Type) {
	path, t, known := "", root, typed
	it := e.Key()
	start := position{}
	for first := true; it.Next(); first = false {
		k := it.Node()
		at := w.pos(k)
		if first {
			// Problems with a header point at its first key, as go-toml's do.
			start = at
		}
		name := string(k.Data)
		last := it.IsLast()
		if known {
			ft, ok := w.field(t, name, path, start)
			known, t = ok, ft
		}
		path = join(path, name)
		switch {
		case last && e.Kind == unstable.ArrayTable:
			n := w.arrays[path]
			w.arrays[path] = n + 1
			w.remember(path, at)
			path += "[" + strconv.Itoa(n) + "]"
			// An element is where its header starts: "[[stage.validate]]" at "stage".
			w.remember(path, start)
			if known {
				if t = deref(t); t.Kind() != reflect.Slice && t.Kind() != reflect.Interface {
					w.report(start, path, "%q must be %s, not an array of tables", name, want(t))
					known = false
				} else if t.Kind() == reflect.Slice {
					t = deref(t.Elem())
				}
			}
		case w.arrays[path] > 0:
			// A dotted header through an array of tables means its last element.
			w.remember(path, at)
			path += "[" + strconv.Itoa(w.arrays[path]-1) + "]"
			if known && deref(t).Kind() == reflect.Slice {
				t = deref(deref(t).Elem())
			}
		}
		w.remember(path, at)
		if last && known && e.Kind == unstable.Table && !isTable(t) {
			w.report(start, path, "%q must be %s, not a table", name, want(t))
			known = false
		}
	}
	if !known {
		t = nil
	}
	return path, t
}

// keyValue checks "a.b = value" inside the table at parent.
func (w *walker) keyValue(parent string, parentT reflect.Type, typed bool, e *unstable.Node) {
	known := typed && parentT != nil
	t := parentT
	path := parent
	it := e.Key()
	start := position{}
	var name string
	for first := true; it.Next(); first = false {
		k := it.Node()
		at := w.pos(k)
		if first {
			start = at
		}
		name = string(k.Data)
		if known {
			ft, ok := w.field(t, name, path, start)
			known, t = ok, ft
		}
		path = join(path, name)
		w.remember(path, at)
	}
	if known {
		w.value(path, name, t, e.Value())
	} else {
		w.value(path, name, nil, e.Value())
	}
}

// value checks a value against the type t it decodes into (nil: unknown) and
// records the positions of what it contains.
func (w *walker) value(path, name string, t reflect.Type, v *unstable.Node) {
	if t != nil {
		t = deref(t)
		if t.Kind() == reflect.Interface {
			t = nil
		}
	}
	if t != nil && !accepts(t, v.Kind) {
		w.report(w.valuePos(v), path, "%q must be %s, not %s", name, want(t), got(v.Kind))
		t = nil
	}
	if t != nil && v.Kind == unstable.String && isTextual(t) {
		// Decoding stops at the first bad value; trying each here reports them all.
		if err := reflect.New(t).Interface().(encoding.TextUnmarshaler).UnmarshalText(v.Data); err != nil {
			w.report(w.pos(v), path, "%q: %s", name, err)
		}
	}
	switch v.Kind {
	case unstable.Array:
		var elem reflect.Type
		if t != nil {
			elem = t.Elem()
		}
		i := 0
		for it := v.Children(); it.Next(); i++ {
			c := it.Node()
			p := path + "[" + strconv.Itoa(i) + "]"
			w.remember(p, w.valuePos(c))
			w.value(p, name+"["+strconv.Itoa(i)+"]", elem, c)
		}
	case unstable.InlineTable:
		for it := v.Children(); it.Next(); {
			w.keyValue(path, t, t != nil, it.Node())
		}
	}
}

// valuePos is where a value starts. Containers have no Raw range of their own,
// so they are located by their first scalar, which is close enough for a message.
func (w *walker) valuePos(v *unstable.Node) position {
	if v.Raw.Length > 0 || v.Kind != unstable.Array && v.Kind != unstable.InlineTable {
		return w.pos(v)
	}
	for it := v.Children(); it.Next(); {
		c := it.Node()
		if c.Kind == unstable.KeyValue {
			k := c.Key()
			if k.Next() {
				return w.pos(k.Node())
			}
		}
		return w.valuePos(c)
	}
	return position{}
}

// field resolves key name inside t. Unknown keys, including keys that only match
// in another case (go-toml would accept those), are reported at the start of
// the expression, where go-toml reports them too.
func (w *walker) field(t reflect.Type, name, parent string, at position) (reflect.Type, bool) {
	t = deref(t)
	switch t.Kind() {
	case reflect.Map:
		return t.Elem(), true
	case reflect.Struct:
		keys, ok := w.keys[t]
		if !ok {
			keys = fields(t)
			w.keys[t] = keys
		}
		if ft, ok := keys[name]; ok {
			return ft, true
		}
		w.report(at, join(parent, name), "%s", unknownKeyMsg(name, fieldNames(t)))
		return nil, false
	default:
		return nil, false
	}
}

func deref(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// isTextual reports whether t decodes from a string through UnmarshalText.
func isTextual(t reflect.Type) bool {
	return reflect.PointerTo(t).Implements(textUnmarshalerType)
}

func isTable(t reflect.Type) bool {
	t = deref(t)
	return t.Kind() == reflect.Interface || t.Kind() == reflect.Map || t.Kind() == reflect.Struct && !isTextual(t)
}

// accepts mirrors what go-toml can decode, erring on the side of accepting:
// a false alarm here would reject a valid file.
func accepts(t reflect.Type, k unstable.Kind) bool {
	if t == durationType {
		// go-toml would store a bare integer as nanoseconds.
		return k == unstable.String
	}
	if isTextual(t) && k == unstable.String {
		return true
	}
	switch k {
	case unstable.String:
		return t.Kind() == reflect.String
	case unstable.Integer:
		return isInt(t.Kind()) || isFloat(t.Kind()) || isTextual(t)
	case unstable.Float:
		return isFloat(t.Kind())
	case unstable.Bool:
		return t.Kind() == reflect.Bool
	case unstable.Array:
		return t.Kind() == reflect.Slice || t.Kind() == reflect.Array
	case unstable.InlineTable:
		return isTable(t)
	default: // dates and times
		return t.Kind() == reflect.Struct || isTextual(t)
	}
}

func isInt(k reflect.Kind) bool {
	return k >= reflect.Int && k <= reflect.Uintptr
}

func isFloat(k reflect.Kind) bool {
	return k == reflect.Float32 || k == reflect.Float64
}

func want(t reflect.Type) string {
	t = deref(t)
	switch {
	case t == durationType:
		return `a duration string such as "30s" or "1h30m"`
	case isTextual(t) || t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case isInt(t.Kind()):
		return "an integer"
	case isFloat(t.Kind()):
		return "a number"
	case (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && isTable(t.Elem()):
		return "an array of tables ([[...]] sections or [{...}, ...])"
	case t.Kind() == reflect.Slice || t.Kind() == reflect.Array:
		return "an array"
	case isTable(t):
		return "a table"
	default:
		return "a " + t.String()
	}
}

func got(k unstable.Kind) string {
	switch k {
	case unstable.String:
		return "a string"
	case unstable.Integer:
		return "an integer"
	case unstable.Float:
		return "a float"
	case unstable.Bool:
		return "a boolean"
	case unstable.Array:
		return "an array"
	case unstable.InlineTable:
		return "a table"
	default:
		return "a date or time"
	}
}

// fields maps the TOML keys of struct type t to their types, following
// go-toml's rules: a "toml" tag names the key, "-" hides the field, untagged
// embedded structs are flattened (shallower fields win).
func fields(t reflect.Type) map[string]reflect.Type {
	m := map[string]reflect.Type{}
	addFields(m, t, map[reflect.Type]bool{})
	return m
}

// fieldNames lists the TOML keys of struct type t in declaration order.
func fieldNames(t reflect.Type) []string {
	var names []string
	var add func(t reflect.Type, seen map[reflect.Type]bool)
	add = func(t reflect.Type, seen map[reflect.Type]bool) {
		if seen[t] {
			return
		}
		seen[t] = true
		for i := range t.NumField() {
			f := t.Field(i)
			name, ok, flatten := keyOf(f)
			switch {
			case flatten:
				add(deref(f.Type), seen)
			case ok:
				names = append(names, name)
			}
		}
	}
	add(deref(t), map[reflect.Type]bool{})
	return names
}

func addFields(m map[string]reflect.Type, t reflect.Type, seen map[reflect.Type]bool) {
	if seen[t] {
		return
	}
	seen[t] = true
	var embedded []reflect.Type
	for i := range t.NumField() {
		f := t.Field(i)
		name, ok, flatten := keyOf(f)
		switch {
		case flatten:
			embedded = append(embedded, deref(f.Type))
		case ok:
			if _, dup := m[name]; !dup {
				m[name] = f.Type
			}
		}
	}
	for _, e := range embedded {
		addFields(m, e, seen)
	}
}

// keyOf is the TOML key of a struct field; flatten is true for an untagged
// embedded struct whose fields belong to the parent.
func keyOf(f reflect.StructField) (name string, ok, flatten bool) {
	tag, tagged := f.Tag.Lookup("toml")
	if tagged && tag == "-" {
		return "", false, false
	}
	name, _, _ = strings.Cut(tag, ",")
	if f.Anonymous {
		if deref(f.Type).Kind() != reflect.Struct {
			return "", false, false
		}
		if name == "" {
			return "", false, true
		}
	} else if !f.IsExported() {
		return "", false, false
	}
	if name == "" {
		name = f.Name
	}
	return name, true, false
}

// candidatesFor lists the keys valid in the table at path (indices ignored)
// under root, or nil when that is not a struct.
func candidatesFor(root reflect.Type, path []string) []string {
	t := deref(root)
	for _, part := range path {
		if t == nil {
			return nil
		}
		switch t.Kind() {
		case reflect.Struct:
			t = deref(fields(t)[part])
		case reflect.Map:
			t = deref(t.Elem())
		default:
			return nil
		}
		for t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			t = deref(t.Elem())
		}
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	return fieldNames(t)
}
