//go:build profile

package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"time"
)

// With the build tag profile (go build -tags profile ./cmd/agent), the
// agent writes a CPU profile of its first JOBBRIDGE_PROFILE_SECONDS seconds
// (default 15) to the file JOBBRIDGE_CPUPROFILE names, for measuring the
// deployed path under a load from another process. Release builds lack it.
func init() {
	path := os.Getenv("JOBBRIDGE_CPUPROFILE")
	if path == "" {
		return
	}
	secs := 15 * time.Second
	if s := os.Getenv("JOBBRIDGE_PROFILE_SECONDS"); s != "" {
		d, err := time.ParseDuration(s + "s")
		if err != nil {
			fmt.Fprintln(os.Stderr, "profile: JOBBRIDGE_PROFILE_SECONDS:", err)
			os.Exit(2)
		}
		secs = d
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		os.Exit(2)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		os.Exit(2)
	}
	time.AfterFunc(secs, func() {
		pprof.StopCPUProfile()
		_ = f.Close()
		fmt.Fprintln(os.Stderr, "profile: written to", path)
	})
}
