package postgres

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jobbridge/jobbridge/agent/store"
)

var _ store.Cluster = (*Store)(nil)

// leaderLockKey is the pg_advisory_lock key of the local scheduler's
// leadership ("jbld").
const leaderLockKey int64 = 0x6a626c64

// cluster holds the connections that live outside the pool: the leader's
// (its session holds the advisory lock) and the listeners'.
type cluster struct {
	mu     sync.Mutex
	leader *pgx.Conn
}

// Notify sends payload on channel with pg_notify.
func (s *Store) Notify(ctx context.Context, channel, payload string) error {
	if len(payload) > store.MaxNotifyPayload {
		return fmt.Errorf("notify %s: payload of %d bytes is over %d", channel, len(payload), store.MaxNotifyPayload)
	}
	if _, err := s.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, channel, payload); err != nil {
		return dbErr(err, "notify %s", channel)
	}
	return nil
}

// Listen listens on its own connection, reconnecting with backoff.
func (s *Store) Listen(ctx context.Context, channels []string, fn func(channel, payload string)) error {
	backoff := 100 * time.Millisecond
	first := true
	for ctx.Err() == nil {
		conn, err := s.listenConn(ctx, channels)
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		if !first {
			fn(store.Reconnected, "")
		}
		first = false
		for {
			n, err := conn.WaitForNotification(ctx)
			if err != nil {
				break
			}
			fn(n.Channel, n.Payload)
		}
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn.Close(closeCtx)
		cancel()
	}
	return nil
}

func (s *Store) listenConn(ctx context.Context, channels []string) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, dbErr(err, "connect to listen")
	}
	for _, ch := range channels {
		if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{ch}.Sanitize()); err != nil {
			conn.Close(ctx)
			return nil, dbErr(err, "listen on %s", ch)
		}
	}
	return conn, nil
}

// AgentHeartbeat upserts the agent's row.
func (s *Store) AgentHeartbeat(ctx context.Context, a store.AgentInfo) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO agents (node, url, started_at, heartbeat_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (node) DO UPDATE SET url = EXCLUDED.url, started_at = EXCLUDED.started_at, heartbeat_at = EXCLUDED.heartbeat_at`,
		a.Node, a.URL, a.StartedAt.UTC(), a.HeartbeatAt.UTC())
	if err != nil {
		return dbErr(err, "record heartbeat of agent %q", a.Node)
	}
	return nil
}

// AgentList lists the agents by node.
func (s *Store) AgentList(ctx context.Context) ([]store.AgentInfo, error) {
	rows, _ := s.pool.Query(ctx, `SELECT node, url, started_at, heartbeat_at FROM agents ORDER BY node`)
	agents, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.AgentInfo, error) {
		var a store.AgentInfo
		err := row.Scan(&a.Node, &a.URL, &a.StartedAt, &a.HeartbeatAt)
		a.StartedAt, a.HeartbeatAt = a.StartedAt.UTC(), a.HeartbeatAt.UTC()
		return a, err
	})
	if err != nil {
		return nil, dbErr(err, "list agents")
	}
	return agents, nil
}

// AgentDelete forgets an agent.
func (s *Store) AgentDelete(ctx context.Context, node string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM agents WHERE node = $1`, node); err != nil {
		return dbErr(err, "forget agent %q", node)
	}
	return nil
}

// Leader holds a session advisory lock on a connection of its own. While
// that connection answers, this store keeps the leadership; when it drops,
// PostgreSQL releases the lock and another agent's Leader takes it.
func (s *Store) Leader(ctx context.Context) (bool, error) {
	s.cluster.mu.Lock()
	defer s.cluster.mu.Unlock()
	if c := s.cluster.leader; c != nil {
		if _, err := c.Exec(ctx, `SELECT 1`); err == nil {
			return true, nil
		}
		c.Close(context.Background())
		s.cluster.leader = nil
	}
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return false, dbErr(err, "connect for the leadership")
	}
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, leaderLockKey).Scan(&got); err != nil {
		conn.Close(context.Background())
		return false, dbErr(err, "try the leadership lock")
	}
	if !got {
		conn.Close(context.Background())
		return false, nil
	}
	s.cluster.leader = conn
	return true, nil
}

// closeCluster drops the leadership connection.
func (s *Store) closeCluster() {
	s.cluster.mu.Lock()
	defer s.cluster.mu.Unlock()
	if s.cluster.leader != nil {
		s.cluster.leader.Close(context.Background())
		s.cluster.leader = nil
	}
}
