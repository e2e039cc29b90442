package postgres

import (
	"fmt"

	"github.com/jobbridge/jobbridge/shared/api"
)

// HealthQueries are RuleHealthList's queries, for the plan test.
var HealthQueries = map[string]string{
	"summary": healthSummaryQuery,
	"recent":  fmt.Sprintf(healthRecentQuery, api.HealthWindow),
}
