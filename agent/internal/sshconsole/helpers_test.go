package sshconsole_test

import (
	"context"
	"errors"
	"time"
)

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
