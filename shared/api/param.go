package api

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The parameter types (Param.Type). Values always travel as strings (in
// rules, in the API, in the command job's environment); the type says which
// strings are valid. An empty type is ParamString.
const (
	ParamString   = "string"
	ParamInt      = "int"      // a base-10 integer (int64)
	ParamBool     = "bool"     // true or false (strconv.ParseBool)
	ParamDuration = "duration" // a Go duration: "90s", "1h30m"
	ParamEnum     = "enum"     // one of Choices
)

// ParamTypes lists every parameter type.
var ParamTypes = []string{ParamString, ParamInt, ParamBool, ParamDuration, ParamEnum}

// ErrParamRequired is what Param.Value says of a required parameter left
// with no value and no default.
var ErrParamRequired = errors.New("is required")

// CheckValue reports whether v is a valid value of the parameter's type:
// the agent checks every value it is given with it, and the console checks
// what is typed with it before sending.
func (p Param) CheckValue(v string) error {
	switch p.Type {
	case ParamInt:
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return fmt.Errorf("%q is not an integer", v)
		}
	case ParamBool:
		if _, err := strconv.ParseBool(v); err != nil {
			return fmt.Errorf("%q is not a boolean (want true or false)", v)
		}
	case ParamDuration:
		if _, err := time.ParseDuration(v); err != nil {
			return fmt.Errorf("%q is not a duration (want e.g. 90s, 5m, 1h30m)", v)
		}
	case ParamEnum:
		if !slices.Contains(p.Choices, v) {
			return fmt.Errorf("%q is not one of %s", v, strings.Join(p.Choices, ", "))
		}
	}
	return nil
}

// Value returns the value that applies when v is given for the parameter,
// "" standing for none: v, or else the default; "" when there is neither.
// It fails with ErrParamRequired when a required parameter has neither, and
// with CheckValue's error when the value is not of the parameter's type.
func (p Param) Value(v string) (string, error) {
	if v == "" {
		v = p.Default
	}
	if v == "" {
		if p.Required {
			return "", ErrParamRequired
		}
		return "", nil
	}
	if err := p.CheckValue(v); err != nil {
		return "", err
	}
	return v, nil
}
