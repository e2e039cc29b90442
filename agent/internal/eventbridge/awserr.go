package eventbridge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/jobbridge/jobbridge/agent/internal/store"
)

// Error codes EventBridge and EventBridge Scheduler answer when they
// throttle the caller.
var throttleCodes = map[string]bool{
	"ThrottlingException":      true,
	"TooManyRequestsException": true,
	"Throttling":               true,
	"RequestLimitExceeded":     true,
}

// Error codes of failures that may pass on their own. Scheduler's
// ConflictException is a concurrent change (or a schedule made since the
// agent looked): the retry reads again. Its ValidationException and
// ServiceQuotaExceededException, like EventBridge's, would fail the same
// way: they end in the sync state error, and the next reconcile tries
// again.
var transientCodes = map[string]bool{
	"ConcurrentModificationException": true,
	"ConflictException":               true,
	"InternalException":               true,
	"InternalServerException":         true,
	"InternalFailure":                 true,
	"ServiceUnavailable":              true,
}

// failure classifies an error for the retry policy.
type failure int

const (
	permanent failure = iota // a retry would fail the same way
	transient                // may pass: retry after a while
	throttled                // AWS asks to slow down: retry after longer
)

func classify(err error) failure {
	if err == nil || errors.Is(err, context.Canceled) {
		return permanent
	}
	var te *targetsError
	if errors.As(err, &te) {
		return te.failure()
	}
	if errors.Is(err, store.ErrUnavailable) {
		return transient
	}
	if errors.Is(err, errNotOurs) || errors.Is(err, errNeedsScheduler) {
		return permanent
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code := ae.ErrorCode()
		switch {
		case throttleCodes[code]:
			return throttled
		case transientCodes[code]:
			return transient
		}
		var re *awshttp.ResponseError
		if errors.As(err, &re) {
			switch status := re.HTTPStatusCode(); {
			case status == http.StatusTooManyRequests:
				return throttled
			case status >= 500:
				return transient
			}
		}
		return permanent
	}
	// No answer from AWS: the network, a timeout, a DNS failure.
	return transient
}

// isNotFound reports whether AWS answered that the resource does not exist.
func isNotFound(err error) bool { return hasCode(err, "ResourceNotFoundException") }

// isConflict reports whether Scheduler answered that the resource exists
// already or is being changed.
func isConflict(err error) bool { return hasCode(err, "ConflictException") }

// isAccessDenied reports whether AWS refused the call to the caller.
func isAccessDenied(err error) bool {
	return hasCode(err, "AccessDeniedException") || hasCode(err, "AccessDenied")
}

func hasCode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}

// awsMessage is what the sync state shows of an error: AWS's code and
// message when AWS answered, the error otherwise.
func awsMessage(err error) string {
	var te *targetsError
	if errors.As(err, &te) {
		return te.Error()
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		msg := ae.ErrorMessage()
		if msg == "" {
			return ae.ErrorCode()
		}
		return ae.ErrorCode() + ": " + msg
	}
	return err.Error()
}

// targetsError is a PutTargets or RemoveTargets call that AWS accepted but
// whose entries (FailedEntryCount > 0) failed.
type targetsError struct {
	op      string
	entries []entryError
}

type entryError struct{ target, code, message string }

func (e *targetsError) Error() string {
	parts := make([]string, len(e.entries))
	for i, en := range e.entries {
		parts[i] = fmt.Sprintf("target %s: %s: %s", en.target, en.code, en.message)
	}
	return fmt.Sprintf("%s failed for %d target(s): %s", e.op, len(e.entries), strings.Join(parts, "; "))
}

func (e *targetsError) failure() failure {
	f := permanent
	for _, en := range e.entries {
		switch {
		case throttleCodes[en.code]:
			return throttled
		case transientCodes[en.code]:
			f = transient
		}
	}
	return f
}
