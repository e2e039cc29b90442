// Command streamload measures what open event streams cost the agent
// (docs/benchmarks.md, "Event streams under load"): the webhook's latency
// while -streams clients hold GET /api/v1/events open and every run's
// events flow to all of them, and the agent's memory per open stream.
//
// It creates a rule firing the demo job and one viewer token per
// -per-token streams, opens the streams from -from-net loopback addresses
// (-per-address streams each, so that no cap of the agent is reached), lets
// them settle, then POSTs /webhook/run at -rate per second for -duration
// (open loop: a slow answer does not delay the next delivery) and prints
// the latency percentiles with what the streams received. With -pid, the
// agent's resident memory is read from /proc before and after the streams
// open.
//
//	go run ./scripts/streamload -url http://127.0.0.1:8080 -token ADMIN -key KEY -streams 500
//	go run ./scripts/streamload -url ... -streams 1000 -rate 0 -pid $(pgrep -n agent)   # memory only
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type config struct {
	base, token, key      string
	streams, perToken     int
	perAddress            int
	fromNet               string
	rate                  int
	duration, settle      time.Duration
	jobDuration, jobSteps string
	pid                   int
	name                  string
}

func main() {
	var c config
	flag.StringVar(&c.base, "url", "http://127.0.0.1:8080", "the agent's base URL")
	flag.StringVar(&c.token, "token", os.Getenv("JOBBRIDGE_TOKEN"), "an admin token (creates the rule and the viewer tokens)")
	flag.StringVar(&c.key, "key", "", "the webhook key (JOBBRIDGE_EB_API_KEY)")
	flag.IntVar(&c.streams, "streams", 500, "event streams held open")
	flag.IntVar(&c.perToken, "per-token", 50, "streams per viewer token")
	flag.IntVar(&c.perAddress, "per-address", 100, "streams per local address")
	flag.StringVar(&c.fromNet, "from-net", "127.0.1", "the streams connect from FROM-NET.1, .2, ... (loopback)")
	flag.IntVar(&c.rate, "rate", 100, "webhook deliveries per second; 0 measures memory only")
	flag.DurationVar(&c.duration, "duration", 20*time.Second, "how long the deliveries go on")
	flag.DurationVar(&c.settle, "settle", 3*time.Second, "wait after the streams open")
	flag.StringVar(&c.jobDuration, "job-duration", "200ms", "the demo job's duration")
	flag.StringVar(&c.jobSteps, "job-steps", "2", "the demo job's steps (each a progress and a log event)")
	flag.IntVar(&c.pid, "pid", 0, "the agent's process id, to read its memory")
	flag.StringVar(&c.name, "name", "streamload", "prefix of the rule and tokens created")
	flag.Parse()
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "streamload:", err)
		os.Exit(1)
	}
}

func run(c config) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rule := c.name + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if err := api(c, http.MethodPost, "/api/v1/rules", map[string]any{
		"name": rule, "job": "demo", "schedule": "rate(1 day)", "enabled": true,
		"parameters": map[string]string{"duration": c.jobDuration, "steps": c.jobSteps},
	}, nil); err != nil {
		return fmt.Errorf("create the rule: %w", err)
	}
	rssBefore := rss(c.pid)
	heapBefore := heapInuse(c)

	streams := &streamStats{}
	var tokens []string
	for i := 0; i*c.perToken < c.streams; i++ {
		var nt struct {
			Token string `json:"token"`
		}
		if err := api(c, http.MethodPost, "/api/v1/tokens", map[string]string{"name": fmt.Sprintf("%s-%d", rule, i), "role": "viewer"}, &nt); err != nil {
			return fmt.Errorf("create a viewer token: %w", err)
		}
		tokens = append(tokens, nt.Token)
	}
	opened := time.Now()
	var wg sync.WaitGroup
	for i := range c.streams {
		from := fmt.Sprintf("%s.%d", c.fromNet, 1+i/c.perAddress)
		if err := streams.open(ctx, &wg, c, tokens[i/c.perToken], from); err != nil {
			return fmt.Errorf("stream %d from %s: %w", i+1, from, err)
		}
	}
	if c.streams > 0 {
		fmt.Printf("opened %d streams in %s (%d tokens, %d addresses)\n", c.streams, time.Since(opened).Round(time.Millisecond), len(tokens), (c.streams+c.perAddress-1)/c.perAddress)
	}
	time.Sleep(c.settle)
	if c.pid > 0 {
		after := rss(c.pid)
		fmt.Printf("agent RSS %.1f MiB before, %.1f MiB with %d streams open", mib(rssBefore), mib(after), c.streams)
		if c.streams > 0 {
			fmt.Printf(": %.1f MiB per 1,000 streams", mib(after-rssBefore)*1000/float64(c.streams))
		}
		fmt.Println()
	}
	if hb, ha := heapBefore, heapInuse(c); hb > 0 && ha > 0 && c.streams > 0 {
		fmt.Printf("agent Go heap in use %.1f MiB before, %.1f MiB after: %.1f MiB per 1,000 streams\n", mib(hb), mib(ha), mib(ha-hb)*1000/float64(c.streams))
	}
	if c.rate > 0 {
		if err := deliver(ctx, c, rule, streams); err != nil {
			return err
		}
	}
	cancel()
	wg.Wait()
	return nil
}

// deliver POSTs the webhook at c.rate for c.duration and prints latencies.
func deliver(ctx context.Context, c config, rule string, streams *streamStats) error {
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	n := int(c.duration.Seconds() * float64(c.rate))
	lat := make([]time.Duration, n)
	var failed atomic.Int64
	var wg sync.WaitGroup
	eventsBefore := streams.events.Load()
	cpuBefore, selfBefore := cpuTime(c.pid), cpuTime(os.Getpid())
	start := time.Now()
	interval := time.Second / time.Duration(c.rate)
	for i := range n {
		at := start.Add(time.Duration(i) * interval)
		time.Sleep(time.Until(at))
		wg.Go(func() {
			body := fmt.Sprintf(`{"rule":%q,"eventId":"%s-%d","time":%q}`, rule, rule, i, time.Now().UTC().Format(time.RFC3339))
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/webhook/run", strings.NewReader(body))
			req.Header.Set("X-Aws-Event-Bridge-Api-Key", c.key)
			req.Header.Set("Content-Type", "application/json")
			began := time.Now()
			resp, err := hc.Do(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
			}
			lat[i] = time.Since(began)
			if err != nil {
				if failed.Add(1) <= 3 {
					fmt.Fprintln(os.Stderr, "delivery:", err)
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	cpu, self := cpuTime(c.pid)-cpuBefore, cpuTime(os.Getpid())-selfBefore
	time.Sleep(2 * time.Second) // the last runs' events reach the streams
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(float64(len(lat))*p))] }
	fmt.Printf("%d deliveries in %s (%.0f/s), %d failed: p50 %s  p99 %s  max %s\n",
		n, took.Round(time.Millisecond), float64(n)/took.Seconds(), failed.Load(),
		ms(pct(0.50)), ms(pct(0.99)), ms(lat[len(lat)-1]))
	if c.pid > 0 {
		fmt.Printf("agent CPU %.2f s in %.1f s: %.0f%% of one core (this load generator: %.0f%%)\n",
			cpu.Seconds(), took.Seconds(), 100*cpu.Seconds()/took.Seconds(), 100*self.Seconds()/took.Seconds())
	}
	if c.streams > 0 {
		got := streams.events.Load() - eventsBefore
		fmt.Printf("streams received %d events (%.0f each, %.0f/s each); %d resets, %d streams ended early\n",
			got, float64(got)/float64(c.streams), float64(got)/float64(c.streams)/took.Seconds(), streams.resets.Load(), streams.ended.Load())
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// streamStats counts what the streams receive, cheaply: the load generator
// shares the machine with the agent.
type streamStats struct {
	events, resets, ended atomic.Int64
}

func (s *streamStats) open(ctx context.Context, wg *sync.WaitGroup, c config, token, from string) error {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	wg.Go(func() {
		defer resp.Body.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			s.events.Add(int64(bytes.Count(buf[:n], []byte("\nevent: "))))
			s.resets.Add(int64(bytes.Count(buf[:n], []byte("event: reset"))))
			if err != nil {
				if ctx.Err() == nil {
					s.ended.Add(1)
				}
				return
			}
		}
	})
	return nil
}

// api calls the admin API with the admin token.
func api(c config, method, path string, in, out any) error {
	b, _ := json.Marshal(in)
	req, _ := http.NewRequest(method, c.base+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(body))
	}
	if out != nil {
		return json.Unmarshal(body, out)
	}
	return nil
}

// rss is a process's resident memory in bytes, 0 when unknown.
func rss(pid int) int64 {
	if pid <= 0 {
		return 0
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// cpuTime is the user and system CPU time a process has used, from
// /proc/PID/stat (in clock ticks, 100 a second on Linux).
func cpuTime(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: count fields
	// after its closing parenthesis. utime and stime are fields 14 and 15.
	rest := b[bytes.LastIndexByte(b, ')')+1:]
	f := strings.Fields(string(rest))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * (time.Second / 100)
}

// heapInuse reads go_memstats_heap_inuse_bytes from the agent's /metrics.
func heapInuse(c config) int64 {
	resp, err := http.Get(c.base + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_memstats_heap_inuse_bytes "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return int64(f)
		}
	}
	return 0
}
