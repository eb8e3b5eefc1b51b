package score

import (
	"fmt"
	"reflect"
)

// index is text/template's index, except that a key missing from a map of
// any values (.Vars, .VoiceVars) gives "", as it did when vars were strings
// only: {{index .Vars "name"}} reads a var that may be absent.
func index(item reflect.Value, indexes ...reflect.Value) (reflect.Value, error) {
	v := indirectValue(item)
	if !v.IsValid() {
		return reflect.Value{}, fmt.Errorf("index of untyped nil")
	}
	for _, ix := range indexes {
		ix = indirectValue(ix)
		switch v.Kind() {
		case reflect.Array, reflect.Slice, reflect.String:
			i, err := intIndex(ix)
			if err != nil {
				return reflect.Value{}, err
			}
			if i < 0 || i >= v.Len() {
				return reflect.Value{}, fmt.Errorf("index out of range: %d", i)
			}
			v = v.Index(i)
		case reflect.Map:
			if !ix.IsValid() || !ix.Type().AssignableTo(v.Type().Key()) {
				return reflect.Value{}, fmt.Errorf("index of a map needs a key of type %s", v.Type().Key())
			}
			x := v.MapIndex(ix)
			if !x.IsValid() {
				if v.Type().Elem().Kind() == reflect.Interface {
					return reflect.ValueOf(""), nil
				}
				x = reflect.Zero(v.Type().Elem())
			}
			v = x
		case reflect.Invalid:
			return reflect.Value{}, fmt.Errorf("index of untyped nil")
		default:
			return reflect.Value{}, fmt.Errorf("can't index item of type %s", v.Type())
		}
		v = indirectValue(v)
	}
	return v, nil
}

func indirectValue(v reflect.Value) reflect.Value {
	for v.IsValid() && (v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer) && !v.IsNil() {
		v = v.Elem()
	}
	return v
}

func intIndex(v reflect.Value) (int, error) {
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return int(v.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return int(v.Uint()), nil
	case reflect.Invalid:
		return 0, fmt.Errorf("cannot index slice/array with nil")
	}
	return 0, fmt.Errorf("cannot index slice/array with type %s", v.Type())
}
