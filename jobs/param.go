package jobs

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jobbridge/jobbridge/shared/api"
)

// ParamType is the type of a parameter's value. Values always travel as
// strings (in rules, in the API, in the command job's environment); the type
// says which strings are valid.
type ParamType string

// The parameter types, declared once in shared/api so the agent and the
// console agree on them.
const (
	TypeString   ParamType = api.ParamString
	TypeInt      ParamType = api.ParamInt      // a base-10 integer (int64)
	TypeBool     ParamType = api.ParamBool     // true or false (strconv.ParseBool)
	TypeDuration ParamType = api.ParamDuration // a Go duration: "90s", "1h30m"
	TypeEnum     ParamType = api.ParamEnum     // one of Choices
)

// Param describes one parameter of a job.
type Param struct {
	Name        string
	Description string
	Required    bool
	Type        ParamType // TypeString when empty
	Default     string    // used when no value is given; "" means none
	Choices     []string  // the allowed values of an enum
	Secret      bool      // never shown back: masked in the API, the console and run records
	// Destination marks a parameter that decides where the job sends what
	// it has (a URL, a method, headers, a host, a recipient). A stored
	// secret is only ever sent where an admin configured it: below admin,
	// an override of a destination on a rule holding a secret is refused
	// unless the override supplies every secret itself.
	Destination bool
}

var paramNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// Check reports what is wrong with a parameter's declaration: its name,
// its type, choices given or missing, a default not of its type. Registry
// checks every parameter so; a job declared elsewhere than in Go (the
// agent's jobs file) checks them earlier, where it can say its line.
func (p Param) Check() error {
	if !paramNamePattern.MatchString(p.Name) {
		return fmt.Errorf("parameter name %q is invalid: want a letter or '_' then letters, digits or '_' (at most 64)", p.Name)
	}
	switch p.typ() {
	case TypeString, TypeInt, TypeBool, TypeDuration:
		if len(p.Choices) > 0 {
			return fmt.Errorf("parameter %q: choices are only for type enum", p.Name)
		}
	case TypeEnum:
		if len(p.Choices) == 0 {
			return fmt.Errorf("parameter %q: an enum needs choices", p.Name)
		}
	default:
		return fmt.Errorf("parameter %q: unknown type %q (want string, int, bool, duration or enum)", p.Name, p.Type)
	}
	if p.Default != "" {
		if err := p.CheckValue(p.Default); err != nil {
			if p.Secret {
				// The error quotes the value; a secret is never echoed.
				return fmt.Errorf("parameter %q: default: is not a valid %s (the value is secret, so it is not shown)", p.Name, p.typ())
			}
			return fmt.Errorf("parameter %q: default: %w", p.Name, err)
		}
	}
	return nil
}

func (p Param) typ() ParamType {
	if p.Type == "" {
		return TypeString
	}
	return p.Type
}

// CheckValue reports whether v is a valid value of the parameter's type.
// The check is api.Param.CheckValue, the one the console uses too.
func (p Param) CheckValue(v string) error { return p.wire().CheckValue(v) }

// wire is what api.Param's checks need of p.
func (p Param) wire() api.Param {
	return api.Param{Name: p.Name, Required: p.Required, Type: string(p.typ()), Default: p.Default, Choices: p.Choices}
}

// FieldError is what is wrong with one parameter's value.
type FieldError struct {
	Param  string
	Reason string
}

func (e FieldError) Error() string { return e.Param + ": " + e.Reason }

// ValidationError lists every offending parameter.
type ValidationError struct {
	Job    string
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Error()
	}
	return fmt.Sprintf("invalid parameters for job %q: %s", e.Job, strings.Join(parts, "; "))
}

// Resolve checks values against a job's parameters and returns them with
// defaults applied. It refuses unknown parameters, missing required ones and
// values not of their type, listing every problem in a *ValidationError.
func Resolve(job Job, values map[string]string) (Params, error) {
	declared := job.Params()
	out := make(Params, len(declared))
	var fields []FieldError
	known := make(map[string]bool, len(declared))
	for _, p := range declared {
		known[p.Name] = true
		v, err := p.wire().Value(values[p.Name])
		switch {
		case errors.Is(err, api.ErrParamRequired):
			fields = append(fields, FieldError{p.Name, err.Error()})
		case err != nil:
			reason := err.Error()
			if p.Secret {
				// The reason quotes the value; a secret is never echoed.
				reason = fmt.Sprintf("is not a valid %s (the value is secret, so it is not shown)", p.typ())
			}
			fields = append(fields, FieldError{p.Name, reason})
		case v != "":
			out[p.Name] = v
		}
	}
	var unknown []string
	for name := range values {
		if !known[name] {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	for _, name := range unknown {
		fields = append(fields, FieldError{name, fmt.Sprintf("unknown parameter (job %q takes %s)", job.ID(), ParamNames(declared))})
	}
	if len(fields) > 0 {
		return nil, &ValidationError{Job: job.ID(), Fields: fields}
	}
	if v, ok := job.(Validator); ok {
		if fields := v.Validate(out); len(fields) > 0 {
			return nil, &ValidationError{Job: job.ID(), Fields: fields}
		}
	}
	return out, nil
}

// ParamNames lists the parameters' names for a message: "a, b, c", or
// "none".
func ParamNames(ps []Param) string {
	if len(ps) == 0 {
		return "none"
	}
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}

// SecretValues returns the values of job's secret parameters in values, for
// masking them wherever they might be written.
func SecretValues(job Job, values map[string]string) []string {
	var out []string
	for _, p := range job.Params() {
		if v := values[p.Name]; p.Secret && v != "" {
			out = append(out, v)
		}
	}
	return out
}

// Mask returns a copy of values with every secret parameter of job replaced
// by api.MaskedValue, for records and display.
func Mask(job Job, values map[string]string) map[string]string {
	out := make(map[string]string, len(values))
	for k, v := range values {
		out[k] = v
	}
	for _, p := range job.Params() {
		if _, ok := out[p.Name]; ok && p.Secret {
			out[p.Name] = api.MaskedValue
		}
	}
	return out
}

// Params are the values a run was given, by parameter name.
type Params map[string]string

// ErrMissing is returned by the typed getters for a parameter with no value.
var ErrMissing = errors.New("parameter has no value")

// String returns the parameter's value, "" if it has none.
func (p Params) String(name string) string { return p[name] }

// Int returns the parameter's value as an integer.
func (p Params) Int(name string) (int64, error) {
	v, ok := p[name]
	if !ok {
		return 0, fmt.Errorf("%s: %w", name, ErrMissing)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not an integer", name, v)
	}
	return n, nil
}

// Bool returns the parameter's value as a boolean; false when it has none.
func (p Params) Bool(name string) (bool, error) {
	v, ok := p[name]
	if !ok {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s: %q is not a boolean", name, v)
	}
	return b, nil
}

// Duration returns the parameter's value as a duration.
func (p Params) Duration(name string) (time.Duration, error) {
	v, ok := p[name]
	if !ok {
		return 0, fmt.Errorf("%s: %w", name, ErrMissing)
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a duration", name, v)
	}
	return d, nil
}
