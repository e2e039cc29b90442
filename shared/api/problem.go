package api

// Problem is an error answer, application/problem+json per RFC 9457. Errors
// lists every offending field of a request, so a client can show them all at
// once.
type Problem struct {
	Type     string        `json:"type,omitempty"`
	Title    string        `json:"title"`
	Status   int           `json:"status"`
	Detail   string        `json:"detail,omitempty"`
	Instance string        `json:"instance,omitempty"`
	Errors   []ErrorDetail `json:"errors,omitempty"`
}

// ProblemMaintenance is the Type of the 409 that refuses a manual run or
// restart while maintenance mode is on: a client offers to send it again
// with RunParams.Force.
const ProblemMaintenance = "urn:jobbridge:problem:maintenance"

// ProblemStale is the Type of the 412 that refuses a PUT, PATCH or DELETE
// of a rule whose If-Match names a version the rule no longer has: someone
// changed it since the client read it. The problem's detail says the
// current version.
const ProblemStale = "urn:jobbridge:problem:stale"

// ProblemNotFound is the Type of the 404 for a path the API does not have,
// and ProblemMethod of the 405 for a method a path does not take.
const (
	ProblemNotFound = "urn:jobbridge:problem:no-such-route"
	ProblemMethod   = "urn:jobbridge:problem:method-not-allowed"
)

// ErrorDetail is what is wrong with one part of a request.
type ErrorDetail struct {
	// Location is where the problem is: "body.rule", "query.status", ...
	Location string `json:"location,omitempty"`
	Message  string `json:"message"`
	Value    any    `json:"value,omitempty"`
}

// ProblemContentType is the media type of a Problem.
const ProblemContentType = "application/problem+json"

// DefaultWebhookKeyHeader is the header that carries the webhook's API key
// unless JOBBRIDGE_EB_AUTH_HEADER names another: the agent's EventBridge
// connection puts the key in it and the webhook checks it there.
const DefaultWebhookKeyHeader = "X-Aws-Event-Bridge-Api-Key"

// WebhookRequest is the body the agent's EventBridge input transformer
// sends to POST /webhook/run.
type WebhookRequest struct {
	Rule    string `json:"rule"`
	EventID string `json:"eventId"`
	Time    string `json:"time"`
}

// WebhookResponse answers POST /webhook/run: 202 for a new run, 200 with
// Duplicate for an event id delivered before.
type WebhookResponse struct {
	RunID     string `json:"runId"`
	Duplicate bool   `json:"duplicate,omitempty"`
}
