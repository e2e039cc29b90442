package notify

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/jobbridge/jobbridge/shared/api"
)

// A channel's errors go to the status any viewer reads, to the log and to
// the audit trail, yet they are built from things that carry the channel's
// secrets: Go's *url.Error quotes the whole webhook URL (for Slack-style
// hooks the path is the credential), a server's reply may echo the request
// path, an Authorization header or the AUTH exchange, and AWS may echo the
// signed request. So every channel error passes through scrub, which keeps
// only its text with the secrets taken out; nothing that unwraps or
// formats the result can reach the original.

// masked stands where a secret was, as it does for secret run parameters.
const masked = api.MaskedValue

// secretHolder is a channel that knows which of its strings are secret.
// Channels that do not say still get the generic scrubbing.
type secretHolder interface {
	secrets() []string
}

// channelError is a channel's failure reduced to safe text.
type channelError struct {
	msg string
	// cause is context.Canceled or context.DeadlineExceeded when the
	// failure was one, so errors.Is can still tell; never the original.
	cause error
}

func (e *channelError) Error() string { return e.msg }
func (e *channelError) Unwrap() error { return e.cause }

// scrub returns err as text that holds none of n's secrets: every
// *url.Error is shown as method, scheme://host and cause only, then each
// secret n declares (and each URL a *url.Error named) is masked, and so
// are the values of signing parameters, tokens and passwords. Scrubbing
// twice changes nothing.
func scrub(n Notifier, err error) error {
	if err == nil {
		return nil
	}
	var secrets []string
	if h, ok := n.(secretHolder); ok {
		secrets = h.secrets()
	}
	for _, ue := range urlErrors(err) {
		secrets = append(secrets, urlSecrets(ue.URL)...)
	}
	msg := maskSecrets(withoutURLs(err), secrets)
	msg = signingValue.ReplaceAllString(msg, "${1}"+masked)
	msg = bearerToken.ReplaceAllString(msg, "${1}"+masked)
	e := &channelError{msg: msg}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		e.cause = context.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		e.cause = context.Canceled
	}
	return e
}

// withoutURLs is err's text with each *url.Error in it reduced to
// `Op "scheme://host": cause`.
func withoutURLs(err error) string {
	text := err.Error()
	for _, ue := range urlErrors(err) {
		if ue.Err == nil {
			text = strings.ReplaceAll(text, ue.Error(), ue.Op+" "+strconv.Quote(origin(ue.URL)))
			continue
		}
		text = strings.ReplaceAll(text, ue.Error(), ue.Op+" "+strconv.Quote(origin(ue.URL))+": "+withoutURLs(ue.Err))
	}
	return text
}

// urlErrors finds the outermost *url.Errors in err's tree (their causes
// are rewritten by withoutURLs in turn).
func urlErrors(err error) []*url.Error {
	if ue, ok := err.(*url.Error); ok {
		return []*url.Error{ue}
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		if next := u.Unwrap(); next != nil {
			return urlErrors(next)
		}
	case interface{ Unwrap() []error }:
		var out []*url.Error
		for _, next := range u.Unwrap() {
			if next != nil {
				out = append(out, urlErrors(next)...)
			}
		}
		return out
	}
	return nil
}

// origin is scheme://host of a URL, without userinfo, path or query.
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(URL hidden)"
	}
	return u.Scheme + "://" + u.Host
}

// urlSecrets are the parts of a URL that may be credentials: the whole
// (unless it is no more than scheme://host), its userinfo (also as a Basic
// Authorization header carries it), its path, its query and each query
// value.
func urlSecrets(raw string) []string {
	u, err := url.Parse(raw)
	if err != nil {
		return []string{raw}
	}
	var out []string
	if o := origin(raw); raw != o && raw != o+"/" {
		out = append(out, raw, u.String())
	}
	if u.User != nil {
		user := u.User.Username()
		pass, _ := u.User.Password()
		out = append(out, u.User.String(), user, pass, base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
	}
	if len(u.Path) > 1 || u.RawQuery != "" { // more than "" or "/"
		out = append(out, u.RequestURI(), u.Path, u.EscapedPath())
	}
	if u.RawQuery != "" {
		out = append(out, u.RawQuery)
		for _, vs := range u.Query() {
			out = append(out, vs...)
		}
	}
	return out
}

// maskSecrets masks each secret, longest first so a URL goes whole rather
// than leaving bits around its path, also as it looks URL-encoded, and
// JSON-encoded with escaped slashes.
func maskSecrets(text string, secrets []string) string {
	var all []string
	for _, s := range secrets {
		if s == "" {
			continue
		}
		all = append(all, s, url.QueryEscape(s), url.PathEscape(s), strings.ReplaceAll(s, "/", `\/`))
	}
	slices.SortFunc(all, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	for _, s := range all {
		text = strings.ReplaceAll(text, s, masked)
	}
	return text
}

var (
	// signingValue is a signing parameter, token or password given as
	// name=value or name: value, as AWS echoes a signed request
	// (X-Amz-Security-Token, Credential=, Signature=) or a server echoes a
	// form.
	signingValue = regexp.MustCompile(`(?i)(\b(?:x-amz-security-token|x-amz-signature|x-amz-credential|signature|credential|access_token|token|password|secret)["']?\s*[=:]\s*["']?)[^\s&,;'"<>]+`)
	// bearerToken is an Authorization header's token.
	bearerToken = regexp.MustCompile(`(?i)(\bbearer\s+)[^\s&,;'"<>]+`)
)

// base64Forms are the ways SMTP AUTH sends a username and password:
// PLAIN with an empty or a repeated authorization identity, LOGIN's two
// answers and XOAUTH2. Unpadded, so a padded echo is masked too.
func base64Forms(user, pass string) []string {
	var out []string
	for _, s := range []string{
		"\x00" + user + "\x00" + pass,
		user + "\x00" + user + "\x00" + pass,
		user, pass,
		"user=" + user + "\x01auth=Bearer " + pass + "\x01\x01",
	} {
		out = append(out, base64.RawStdEncoding.EncodeToString([]byte(s)))
	}
	return out
}
