package main

import (
	"context"
	"fmt"
	"io/fs"

	"github.com/jobbridge/jobbridge/jobs"
)

// Usage reports how much space the files under a directory take, and fails
// when they take more than a limit.
type Usage struct{ fsys fs.FS }

// NewUsage returns the job reading fsys: dependencies come in through the
// constructor, never through globals.
func NewUsage(fsys fs.FS) *Usage { return &Usage{fsys: fsys} }

// ID is the job's stable identity: rules name it.
func (*Usage) ID() string { return "files.usage" }

// Description is shown in the console and the API.
func (*Usage) Description() string {
	return "Reports the size of a directory tree, and fails above a limit"
}

// Params are checked against their types before the job runs.
func (*Usage) Params() []jobs.Param {
	return []jobs.Param{
		{Name: "dir", Default: ".", Description: "directory to measure, relative to USAGE_ROOT"},
		{Name: "limit_mb", Type: jobs.TypeInt, Default: "0", Description: "fail above this many MiB; 0 for no limit"},
	}
}

// Validate refuses a dir outside the tree when a rule is saved or a run
// asked for, not only when the job runs.
func (*Usage) Validate(p jobs.Params) []jobs.FieldError {
	if !fs.ValidPath(p.String("dir")) {
		return []jobs.FieldError{{Param: "dir", Reason: "must be a relative path inside USAGE_ROOT, without .."}}
	}
	return nil
}

// Run measures the tree. ctx is cancelled when an operator cancels the run,
// when the rule's timeout passes or when the agent shuts down.
func (u *Usage) Run(ctx context.Context, p jobs.Params) error {
	dir := p.String("dir")
	limit, err := p.Int("limit_mb")
	if err != nil {
		return err
	}
	var files, bytes int64
	err = fs.WalkDir(u.fsys, dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err // stop promptly once cancelled
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		files++
		bytes += info.Size()
		return nil
	})
	if err != nil {
		return fmt.Errorf("measure %s: %w", dir, err)
	}
	jobs.Logger(ctx).Info("measured", "dir", dir, "files", files, "bytes", bytes) // kept with the run
	jobs.Progress(ctx, 100, "measured")
	if limit > 0 && bytes > limit<<20 {
		return fmt.Errorf("%s takes %d bytes, over the limit of %d MiB", dir, bytes, limit)
	}
	return nil
}
