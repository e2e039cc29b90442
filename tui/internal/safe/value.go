package safe

import (
	"encoding/json"
	"errors"
	"reflect"

	"github.com/jobbridge/jobbridge/shared/client"
)

// Value returns a copy of v with Text applied to every string in it: string
// fields (of named string types too, such as api.RunStatus), map keys and
// values, slice and array elements, and what pointers and interfaces hold,
// however deep, and JSON documents (json.RawMessage, see JSON). Unexported fields are copied as they are (time.Time's
// internals hold no text from the agent). v itself is not changed, so a
// reply shared with anyone else stays as it came.
//
// It walks by reflection so that a field added to the API types is cleaned
// without anyone remembering to: the console draws whatever the types hold.
func Value[T any](v T) T {
	out := clean(reflect.ValueOf(&v).Elem())
	return out.Interface().(T)
}

func clean(v reflect.Value) reflect.Value {
	if v.Type() == rawJSONType {
		return reflect.ValueOf(JSON(v.Interface().(json.RawMessage)))
	}
	switch v.Kind() {
	case reflect.String:
		s := v.String()
		c := Text(s)
		if c == s {
			return v
		}
		return reflect.ValueOf(c).Convert(v.Type())
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		p := reflect.New(v.Type().Elem())
		p.Elem().Set(clean(v.Elem()))
		return p
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type()).Elem()
		out.Set(clean(v.Elem()))
		return out
	case reflect.Struct:
		out := reflect.New(v.Type()).Elem()
		out.Set(v)
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				out.Field(i).Set(clean(v.Field(i)))
			}
		}
		return out
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			out.Index(i).Set(clean(v.Index(i)))
		}
		return out
	case reflect.Array:
		out := reflect.New(v.Type()).Elem()
		for i := range v.Len() {
			out.Index(i).Set(clean(v.Index(i)))
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			out.SetMapIndex(clean(it.Key()), clean(it.Value()))
		}
		return out
	}
	return v
}

// Error returns err with its message cleaned by Text. What callers look for
// in the chain still answers: errors.Is and errors.As see the original
// errors (client.StatusOf still finds the status), and the agent's problem
// in a *client.Error, which the rule form shows field by field, is cleaned
// in place (each reply decodes a new one, so nobody else holds it).
func Error(err error) error {
	if err == nil {
		return nil
	}
	var ce *client.Error
	if errors.As(err, &ce) {
		ce.Problem = Value(ce.Problem)
	}
	return &cleanError{err: err, msg: Text(err.Error())}
}

// cleanError is an error whose message is safe to draw.
type cleanError struct {
	err error
	msg string
}

func (e *cleanError) Error() string { return e.msg }
func (e *cleanError) Unwrap() error { return e.err }
