package cli

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// indentedJSON appends v encoded as json.Encoder with SetIndent(prefix,
// "  ") would encode it, without the trailing newline. It walks the value
// once, indenting as it goes, where encoding/json encodes compactly and then
// re-scans every byte to indent (the larger half of printing a long list).
// Types it does not know (maps, interfaces, Marshalers, embedded structs)
// go through encoding/json, so the output is the same either way.
func indentedJSON(dst []byte, v any, prefix string) ([]byte, error) {
	rv := reflect.ValueOf(v)
	if p := planFor(rv.Type()); p != nil {
		return p.encode(dst, rv, prefix, 0)
	}
	return slowIndentedJSON(dst, v, prefix)
}

func slowIndentedJSON(dst []byte, v any, prefix string) ([]byte, error) {
	b, err := json.MarshalIndent(v, prefix, "  ")
	return append(dst, b...), err
}

// jsonPlan encodes one type; nil plans mean "leave it to encoding/json".
type jsonPlan struct {
	kind   reflect.Kind
	elem   *jsonPlan   // pointer and slice elements
	fields []jsonField // struct fields, in declaration order
}

type jsonField struct {
	index     int
	key       string // `"name": ` already quoted
	omitEmpty bool
	plan      *jsonPlan
}

var jsonPlans sync.Map // reflect.Type -> *jsonPlan (nil stored as a typed nil)

func planFor(t reflect.Type) *jsonPlan {
	if p, ok := jsonPlans.Load(t); ok {
		return p.(*jsonPlan)
	}
	p := buildPlan(t, map[reflect.Type]bool{})
	jsonPlans.Store(t, p)
	return p
}

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[interface{ MarshalText() ([]byte, error) }]()
)

func buildPlan(t reflect.Type, seen map[reflect.Type]bool) *jsonPlan {
	if seen[t] || t.Implements(marshalerType) || t.Implements(textMarshalerType) ||
		reflect.PointerTo(t).Implements(marshalerType) || reflect.PointerTo(t).Implements(textMarshalerType) {
		return nil
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int32, reflect.Int64, reflect.Float64:
		return &jsonPlan{kind: t.Kind()}
	case reflect.Pointer, reflect.Slice:
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
			return nil // []byte is base64 in encoding/json
		}
		elem := buildPlan(t.Elem(), seen)
		if elem == nil {
			return nil
		}
		return &jsonPlan{kind: t.Kind(), elem: elem}
	case reflect.Struct:
		seen[t] = true
		defer delete(seen, t)
		p := &jsonPlan{kind: reflect.Struct}
		for i := range t.NumField() {
			f := t.Field(i)
			if f.Anonymous {
				return nil // its fields are promoted: encoding/json's rules
			}
			if !f.IsExported() {
				continue
			}
			tag := f.Tag.Get("json")
			if tag == "" || tag == "-" {
				return nil
			}
			name, opts, _ := strings.Cut(tag, ",")
			if opts != "" && opts != "omitempty" || name == "" {
				return nil
			}
			fp := buildPlan(f.Type, seen)
			if fp == nil {
				return nil
			}
			p.fields = append(p.fields, jsonField{index: i, key: string(appendJSONString(nil, name)) + ": ",
				omitEmpty: opts == "omitempty", plan: fp})
		}
		return p
	}
	return nil
}

func newline(dst []byte, prefix string, depth int) []byte {
	dst = append(dst, '\n')
	dst = append(dst, prefix...)
	for range depth {
		dst = append(dst, "  "...)
	}
	return dst
}

func (p *jsonPlan) encode(dst []byte, v reflect.Value, prefix string, depth int) ([]byte, error) {
	switch p.kind {
	case reflect.String:
		return appendJSONString(dst, v.String()), nil
	case reflect.Bool:
		return strconv.AppendBool(dst, v.Bool()), nil
	case reflect.Int, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(dst, v.Int(), 10), nil
	case reflect.Float64:
		return appendJSONFloat(dst, v.Float())
	case reflect.Pointer:
		if v.IsNil() {
			return append(dst, "null"...), nil
		}
		return p.elem.encode(dst, v.Elem(), prefix, depth)
	case reflect.Slice:
		if v.IsNil() {
			return append(dst, "null"...), nil
		}
		if v.Len() == 0 {
			return append(dst, "[]"...), nil
		}
		dst = append(dst, '[')
		var err error
		for i := range v.Len() {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = newline(dst, prefix, depth+1)
			if dst, err = p.elem.encode(dst, v.Index(i), prefix, depth+1); err != nil {
				return dst, err
			}
		}
		return append(newline(dst, prefix, depth), ']'), nil
	case reflect.Struct:
		dst = append(dst, '{')
		n := 0
		var err error
		for _, f := range p.fields {
			fv := v.Field(f.index)
			if f.omitEmpty && isEmptyJSON(fv) {
				continue
			}
			if n > 0 {
				dst = append(dst, ',')
			}
			n++
			dst = append(newline(dst, prefix, depth+1), f.key...)
			if dst, err = f.plan.encode(dst, fv, prefix, depth+1); err != nil {
				return dst, err
			}
		}
		if n == 0 {
			return append(dst, '}'), nil
		}
		return append(newline(dst, prefix, depth), '}'), nil
	}
	return dst, fmt.Errorf("json: unsupported kind %s", p.kind)
}

func isEmptyJSON(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.String, reflect.Slice:
		return v.Len() == 0
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Float64:
		return v.Float() == 0
	case reflect.Pointer:
		return v.IsNil()
	}
	return false
}

// appendJSONFloat formats f as encoding/json does: shortest form, with an
// exponent only for very small or large magnitudes.
func appendJSONFloat(dst []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return dst, fmt.Errorf("json: unsupported value: %s", strconv.FormatFloat(f, 'g', -1, 64))
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' { // e-09 -> e-9
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst, nil
}

const hexDigits = "0123456789abcdef"

// plainASCII marks the ASCII bytes a JSON string holds as they are (a
// look-up is cheaper than six comparisons per byte of a long listing).
var plainASCII = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\' && b != '<' && b != '>' && b != '&'
	}
	return t
}()

// appendJSONString quotes s as encoding/json does: HTML characters, U+2028
// and U+2029 escaped, invalid UTF-8 replaced by U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if plainASCII[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
