// Package builtin holds the jobs that ship with the agent: demo (a
// cancellable job that reports progress, for demos and tests), http (one HTTP
// request), command jobs (a configured program, with the run's parameters in
// its environment) and orders.increment (the original module's example SQL
// job, on the agent's own database).
//
// Each job is a struct with a constructor that takes its dependencies; main
// registers them, usually through Register.
package builtin
