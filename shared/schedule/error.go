package schedule

import "fmt"

// Error is why an expression is not one EventBridge accepts: the part of the
// expression at fault, the text found there, and what that part allows.
// Parse returns every validation failure as an *Error.
type Error struct {
	// Field names the part at fault: "minutes", "hours", "day-of-month",
	// "month", "day-of-week", "year", "day-of-month and day-of-week", "rate",
	// or "" when the expression as a whole is wrong (not cron() or rate(),
	// too long, the wrong number of fields).
	Field string
	// Found is the offending text as written; "" when the fault is something
	// missing rather than something written.
	Found string
	// Allowed says what the part accepts, for example "1-7 (SUN-SAT)".
	Allowed string

	msg string // the sentence after "field: "
}

// Error reads like `day-of-week: "8" is out of range 1-7 (SUN-SAT)`; a
// whole-expression problem is reported against "expression".
func (e *Error) Error() string {
	field := e.Field
	if field == "" {
		field = "expression"
	}
	return field + ": " + e.msg
}

// errorf builds an *Error whose message is format applied to args; the
// message conventionally starts with the quoted found text.
func errorf(field, found, allowed, format string, args ...any) *Error {
	return &Error{Field: field, Found: found, Allowed: allowed, msg: fmt.Sprintf(format, args...)}
}
