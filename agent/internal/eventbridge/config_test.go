package eventbridge

import (
	"strings"
	"testing"
)

// TestSettingsValidateRefusesWhatAWSWould checks the names, the API key and
// its header against EventBridge's rules at start: AWS refusing them later
// would leave every rule pending while the setup is retried forever.
func TestSettingsValidateRefusesWhatAWSWould(t *testing.T) {
	t.Parallel()
	const secret = "s3cret-key-value-0123456789"
	for _, tc := range []struct {
		what string
		set  func(*Settings)
		want string // "" when the settings are good
	}{
		{"names at the limit", func(s *Settings) {
			s.ConnectionName, s.DestinationName = strings.Repeat("c", 64), "a.b-c_D9"
		}, ""},
		{"a header with punctuation", func(s *Settings) { s.AuthHeader = "x-api_key.v2" }, ""},
		{"a key with spaces, tabs and punctuation", func(s *Settings) { s.APIKey = "\t" + secret + " two\twords!é " }, ""},
		{"a key of 512 characters", func(s *Settings) { s.APIKey = strings.Repeat("é", 512) }, ""},

		{"a connection name with a space", func(s *Settings) { s.ConnectionName = "jb connection" },
			`JOBBRIDGE_EB_CONNECTION_NAME: "jb connection": use at most 64 of the characters EventBridge allows in connection names (letters, digits, '.', '-' and '_')`},
		{"a connection name of 65 characters", func(s *Settings) { s.ConnectionName = strings.Repeat("c", 65) },
			`JOBBRIDGE_EB_CONNECTION_NAME: "` + strings.Repeat("c", 65) + `": use at most 64`},
		{"a destination name with a slash", func(s *Settings) { s.DestinationName = "jb/destination" },
			`JOBBRIDGE_EB_DESTINATION_NAME: "jb/destination": use at most 64 of the characters EventBridge allows in API destination names`},
		{"a destination name of 65 characters", func(s *Settings) { s.DestinationName = strings.Repeat("d", 65) },
			`JOBBRIDGE_EB_DESTINATION_NAME: "` + strings.Repeat("d", 65) + `": use at most 64`},
		{"a header with a colon", func(s *Settings) { s.AuthHeader = "X-Key:" },
			`JOBBRIDGE_EB_AUTH_HEADER: "X-Key:" is not an HTTP header name: use at most 512 letters, digits and !#$%&'*+-.^_` + "`|~"},
		{"a header with a space", func(s *Settings) { s.AuthHeader = "X Key" },
			`JOBBRIDGE_EB_AUTH_HEADER: "X Key" is not an HTTP header name`},
		{"a header HTTP sets itself", func(s *Settings) { s.AuthHeader = "content-length" },
			`JOBBRIDGE_EB_AUTH_HEADER: "content-length" is a header HTTP or EventBridge sets itself, so the key would not arrive in it: choose one of your own, such as X-Aws-Event-Bridge-Api-Key`},
		{"the header EventBridge fills in", func(s *Settings) { s.AuthHeader = "User-Agent" },
			`JOBBRIDGE_EB_AUTH_HEADER: "User-Agent" is a header HTTP or EventBridge sets itself`},
		{"a header of 513 characters", func(s *Settings) { s.AuthHeader = strings.Repeat("h", 513) },
			`JOBBRIDGE_EB_AUTH_HEADER: "` + strings.Repeat("h", 513) + `" is not an HTTP header name`},
		{"a key with a line break", func(s *Settings) { s.APIKey = secret + "\n" },
			"JOBBRIDGE_EB_API_KEY: contains a control character (U+000A), which EventBridge refuses in an API key"},
		{"a key with a colon", func(s *Settings) { s.APIKey = "user:" + secret },
			"JOBBRIDGE_EB_API_KEY: contains ':', which EventBridge refuses in an API key (the value is not shown)"},
		{"a key of 513 characters", func(s *Settings) { s.APIKey = strings.Repeat("é", 513) },
			"JOBBRIDGE_EB_API_KEY: is 513 characters long; EventBridge takes at most 512 (the value is not shown)"},
		{"a key of tabs", func(s *Settings) { s.APIKey = "\t\t" },
			"JOBBRIDGE_EB_API_KEY: holds nothing but tabs"},
	} {
		s := testSettings()
		tc.set(&s)
		err := s.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.what, err)
		case tc.want == "":
		case err == nil:
			t.Errorf("%s: accepted, want %q", tc.what, tc.want)
		case !strings.Contains(err.Error(), tc.want):
			t.Errorf("%s: %v\nwant it to say %q", tc.what, err, tc.want)
		case strings.Contains(err.Error(), s.APIKey):
			t.Errorf("%s: the error shows the API key: %v", tc.what, err)
		}
	}
}
