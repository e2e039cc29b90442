package builtin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/jobbridge/jobbridge/jobs"
)

// OutputFileEnv is the variable that names, in a command job's program's
// environment, the file where the program may write its run's output: one
// JSON value of at most jobs.MaxOutputBytes.
const OutputFileEnv = "JOBBRIDGE_OUTPUT_FILE"

// errOutputFile marks what is wrong with the file a program wrote its
// output to.
var errOutputFile = errors.New("the output file")

// outputFile is where one run's program may write its output: a file not
// yet made, in a directory of its own that only the agent's user may enter.
type outputFile struct {
	dir, path string
}

// newOutputFile makes the private directory of one run's output file.
func newOutputFile() (*outputFile, error) {
	dir, err := os.MkdirTemp("", "jobbridge-output-") // mode 0700
	if err != nil {
		return nil, fmt.Errorf("make the output file's directory: %w", err)
	}
	return &outputFile{dir: dir, path: filepath.Join(dir, "output.json")}, nil
}

// env is the OutputFileEnv entry of the program's environment.
func (f *outputFile) env() string { return OutputFileEnv + "=" + f.path }

// remove deletes the directory and whatever the program left in it.
func (f *outputFile) remove() error {
	if err := os.RemoveAll(f.dir); err != nil {
		return fmt.Errorf("remove the output file's directory: %w", err)
	}
	return nil
}

// read returns the JSON value the program wrote, nil if it wrote none (no
// file, or one of only white space). It refuses, wrapping errOutputFile, a
// file that is not a regular one (a link, a pipe), holds more than
// jobs.MaxOutputBytes (and jobs.ErrOutputTooLarge) or is not one JSON
// value; the error says what is wrong, never what the file holds.
func (f *outputFile) read() (json.RawMessage, error) {
	info, err := os.Lstat(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errOutputFile, err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%w is not a regular file but a %s", errOutputFile, fileKind(info.Mode()))
	}
	file, err := openNoFollow(f.path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errOutputFile, err)
	}
	defer file.Close()
	if info, err := file.Stat(); err != nil || !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%w changed while it was read", errOutputFile)
	}
	b, err := io.ReadAll(io.LimitReader(file, jobs.MaxOutputBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: read it: %w", errOutputFile, err)
	}
	if len(b) > jobs.MaxOutputBytes {
		return nil, fmt.Errorf("%w holds more than %d bytes (64 KiB): %w", errOutputFile, jobs.MaxOutputBytes, jobs.ErrOutputTooLarge)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	if err := checkOneJSONValue(b); err != nil {
		return nil, fmt.Errorf("%w %w", errOutputFile, err)
	}
	return b, nil
}

// checkOneJSONValue reports whether b is exactly one JSON value, saying
// where it goes wrong but quoting nothing of it: a program's output may hold
// what must not reach the log.
func checkOneJSONValue(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	var v json.RawMessage
	err := dec.Decode(&v)
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &syntax):
		return fmt.Errorf("is not JSON: a syntax error at byte %d of %d", syntax.Offset, len(b))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("is not JSON: it ends inside a value (%d bytes)", len(b))
	case err != nil:
		return errors.New("is not JSON")
	}
	end := dec.InputOffset()
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("is not one JSON value: more follows the first, which ends at byte %d of %d", end, len(b))
	}
	return nil
}

// fileKind names what a file that is not a regular one is.
func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m.IsDir():
		return "directory"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}
