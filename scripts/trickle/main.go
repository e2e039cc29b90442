// Command trickle measures the webhook's latency while other clients
// trickle request bodies at the agent, a byte a second, connecting again
// (after -reconnect) whenever the agent drops them (docs/benchmarks.md,
// "Webhook latency under trickling clients").
//
// It sends -n deliveries with the right key from -concurrency clients on
// 127.0.0.1 and prints p50, p99 and the slowest (of all, failed or not).
// With -tricklers N, N more clients first connect from -from (another
// loopback address, so that they are another client to the agent) and send
// headers with a wrong key and a body that never ends.
//
//	go run ./scripts/trickle -url http://127.0.0.1:8080 -key KEY -rule bench -tricklers 250
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	base := flag.String("url", "http://127.0.0.1:8080", "the agent's base URL")
	key := flag.String("key", "", "the webhook key (JOBBRIDGE_EB_API_KEY)")
	rule := flag.String("rule", "bench", "the rule the deliveries fire")
	n := flag.Int("n", 2000, "deliveries to time")
	conc := flag.Int("concurrency", 4, "clients sending the deliveries")
	tricklers := flag.Int("tricklers", 0, "clients trickling bodies meanwhile")
	from := flag.String("from", "127.0.0.2", "local address the tricklers connect from")
	settle := flag.Duration("settle", 3*time.Second, "how long the tricklers run before the deliveries start")
	timeout := flag.Duration("timeout", 30*time.Second, "how long one delivery may take before it counts as failed")
	pause := flag.Duration("reconnect", time.Second, "how long a trickler waits to connect again once dropped")
	flag.Parse()
	u, err := url.Parse(*base)
	if err != nil || *key == "" {
		fmt.Fprintln(os.Stderr, "trickle: -url and -key are required")
		os.Exit(2)
	}

	ctx, stop := context.WithCancel(context.Background())
	var connects, open atomic.Int64
	var wg sync.WaitGroup
	for range *tricklers {
		wg.Go(func() { trickle(ctx, u.Host, *from, *pause, &connects, &open) })
	}
	if *tricklers > 0 {
		time.Sleep(*settle)
	}

	lat, failed := deliver(*base, *key, *rule, *n, *conc, *timeout)
	openAtEnd := open.Load()
	stop()
	wg.Wait()

	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(float64(len(lat))*p))]
	}
	fmt.Printf("deliveries=%d failed=%d p50=%s p99=%s max=%s tricklers=%d trickler_connects=%d trickling_at_end=%d\n",
		len(lat), failed, pct(0.50).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond),
		pct(1).Round(10*time.Microsecond), *tricklers, connects.Load(), openAtEnd)
}

// trickle connects, sends a request head with a wrong key and a long body,
// then a byte a second; when the agent closes the connection it connects
// again after pause.
func trickle(ctx context.Context, host, from string, pause time.Duration, connects, open *atomic.Int64) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	for ctx.Err() == nil {
		c, err := d.DialContext(ctx, "tcp", host)
		if err != nil {
			sleep(ctx, 100*time.Millisecond)
			continue
		}
		connects.Add(1)
		open.Add(1)
		closed := make(chan struct{})
		go func() { _, _ = io.Copy(io.Discard, c); close(closed) }()
		_, err = fmt.Fprintf(c, "POST /webhook/run HTTP/1.1\r\nHost: %s\r\nX-Aws-Event-Bridge-Api-Key: not-the-key-0123456789\r\n"+
			"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{", host)
		for err == nil {
			select {
			case <-ctx.Done():
				err = ctx.Err()
			case <-closed:
				err = io.EOF
			case <-time.After(time.Second):
				_, err = c.Write([]byte(" "))
			}
		}
		c.Close()
		<-closed
		open.Add(-1)
		sleep(ctx, pause)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// deliver sends n deliveries from conc clients and returns each latency.
func deliver(base, key, rule string, n, conc int, timeout time.Duration) ([]time.Duration, int) {
	var mu sync.Mutex
	var lat []time.Duration
	failed := 0
	var next atomic.Int64
	run := time.Now().UnixNano()
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			hc := &http.Client{Timeout: timeout}
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				body, _ := json.Marshal(map[string]string{"rule": rule, "eventId": fmt.Sprintf("trickle-%d-%d", run, i)})
				req, _ := http.NewRequest(http.MethodPost, base+"/webhook/run", bytes.NewReader(body))
				req.Header.Set("X-Aws-Event-Bridge-Api-Key", key)
				req.Header.Set("Content-Type", "application/json")
				began := time.Now()
				resp, err := hc.Do(req)
				took := time.Since(began)
				ok := err == nil && resp.StatusCode == http.StatusAccepted
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				mu.Lock()
				lat = append(lat, took) // a failure's wait counts too
				if !ok {
					failed++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return lat, failed
}
