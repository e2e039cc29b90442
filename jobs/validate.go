package jobs

// Validator is an optional interface: a Job may also implement it to check
// its parameters' values beyond each one's type, such as a URL's scheme or
// two parameters that conflict. Resolve calls it once every value has passed
// its type check, so bad values are refused when a rule is saved or a run
// is triggered, not only when the job runs.
type Validator interface {
	// Validate reports what is wrong with params (defaults applied, types
	// checked), one FieldError per problem, none when they are fine. It
	// must not change params. A Reason is shown to whoever sent the values
	// and recorded with runs: it must never quote a secret parameter's
	// value, nor a credential found where it should not be.
	Validate(params Params) []FieldError
}
