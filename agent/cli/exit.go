package cli

import "fmt"

// ExitError carries the exit status a command wants. Its message is printed
// on stderr as it is, with no usage text.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// usageErrorf is a command-line mistake: exit status 2.
func usageErrorf(format string, args ...any) error {
	return &ExitError{Code: 2, Err: fmt.Errorf(format, args...)}
}
