package client

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/jobbridge/jobbridge/shared/api"
)

// Stream opens GET /api/v1/events and calls handle for each event until
// ctx is done, the connection drops, or handle returns an error; it returns
// why it stopped (ctx.Err() when cancelled). Pass the ID of the last event
// seen to resume after it; an api.EventReset event says events were missed
// and the caller should reload. Heartbeats are not passed to handle.
//
// Stream does not reconnect: the caller decides how (the console backs off
// and shows the connection state).
func (c *Client) Stream(ctx context.Context, lastEventID string, handle func(api.Event) error) error {
	return c.StreamOpened(ctx, lastEventID, nil, handle)
}

// StreamOpened is Stream that also calls opened (when not nil) as soon as
// the agent has accepted the stream, before any event: a client that shows
// its connection state knows it is live without waiting for an event.
func (c *Client) StreamOpened(ctx context.Context, lastEventID string, opened func(), handle func(api.Event) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/v1/events", nil)
	if err != nil {
		return fmt.Errorf("open event stream: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "text/event-stream")
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("open event stream: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return decodeError(resp)
	}
	if opened != nil {
		opened()
	}
	return readSSE(ctx, resp, handle)
}

// readSSE parses a text/event-stream body: "field: value" lines, events
// separated by a blank line, comments (heartbeats) starting with ':'.
func readSSE(ctx context.Context, resp *http.Response, handle func(api.Event) error) error {
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var id, typ string
	var data strings.Builder
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if data.Len() > 0 {
				var ev api.Event
				if err := json.Unmarshal([]byte(data.String()), &ev); err != nil {
					return fmt.Errorf("event stream: bad event %q: %w", id, err)
				}
				if ev.ID == "" {
					ev.ID = id
				}
				if ev.Type == "" {
					ev.Type = typ
				}
				if err := handle(ev); err != nil {
					return err
				}
			}
			id, typ = "", ""
			data.Reset()
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			id = value
		case "event":
			typ = value
		case "data":
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(value)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("event stream: %w", err)
	}
	return fmt.Errorf("event stream: the agent closed the connection")
}
