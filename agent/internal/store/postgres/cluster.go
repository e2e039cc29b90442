package postgres

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jobbridge/jobbridge/agent/internal/retry"
	"github.com/jobbridge/jobbridge/agent/internal/store"
)

var _ store.Cluster = (*Store)(nil)

// leaderLockKey is the pg_advisory_lock key of the local scheduler's
// leadership ("jbld").
const leaderLockKey int64 = 0x6a626c64

// nodeLockSpace is the first key of a node's session advisory lock; the
// second is hashtext of the node's name. (Two int4 keys live apart from
// the one-bigint keys of the leadership and the migrations.)
const nodeLockSpace int32 = 0x6a6e // "jn"

// cluster holds the connections that live outside the pool, each a session
// whose life means something: the leader's and the node lock's (each holds
// an advisory lock) and the listeners'.
type cluster struct {
	mu     sync.Mutex
	leader *pgx.Conn

	nodeMu   sync.Mutex
	node     string    // whose lock nodeConn holds, or held
	nodeConn *pgx.Conn // nil until NodeLock takes the lock, and after it lost it
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

// Listen listens on its own connection, reconnecting with backoff; see
// store.Cluster for what it tells fn about the connection.
func (s *Store) Listen(ctx context.Context, channels []string, fn func(channel, payload string)) error {
	reconnect := retry.Policy{Backoff: retry.Backoff{First: 100 * time.Millisecond, Max: 5 * time.Second}}
	first := true
	for ctx.Err() == nil {
		conn, err := retry.Value(ctx, reconnect, func(ctx context.Context) (*pgx.Conn, error) {
			return s.listenConn(ctx, channels)
		})
		if err != nil {
			continue // ctx is done: only that stops the retries
		}
		if first {
			fn(store.Listening, "")
		} else {
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
		if ctx.Err() == nil {
			fn(store.Disconnected, "")
		}
	}
	return nil
}

// sessionConfig is the pool's connection settings for a session of its
// own, named for pg_stat_activity ("jobbridge listen", say).
func (s *Store) sessionConfig(name string) *pgx.ConnConfig {
	cfg := s.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = name
	return cfg
}

func (s *Store) listenConn(ctx context.Context, channels []string) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, s.sessionConfig("jobbridge listen"))
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
	_, err := s.pool.Exec(ctx, `INSERT INTO agents (node, url, started_at, heartbeat_at, node_lock) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (node) DO UPDATE SET url = EXCLUDED.url, started_at = EXCLUDED.started_at,
			heartbeat_at = EXCLUDED.heartbeat_at, node_lock = EXCLUDED.node_lock`,
		a.Node, a.URL, a.StartedAt.UTC(), a.HeartbeatAt.UTC(), a.NodeLock)
	if err != nil {
		return dbErr(err, "record heartbeat of agent %q", a.Node)
	}
	return nil
}

// AgentList lists the agents by node. An agent is alive while some session
// holds its node lock, which pg_locks shows (to every role) without taking
// it.
func (s *Store) AgentList(ctx context.Context) ([]store.AgentInfo, error) {
	rows, _ := s.pool.Query(ctx, `SELECT a.node, a.url, a.started_at, a.heartbeat_at, a.node_lock,
			EXISTS (SELECT 1 FROM pg_locks l
				WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
				AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
				AND l.classid = $1::int4::oid AND l.objid = hashtext(a.node)::oid)
		FROM agents a ORDER BY a.node`, nodeLockSpace)
	agents, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.AgentInfo, error) {
		var a store.AgentInfo
		err := row.Scan(&a.Node, &a.URL, &a.StartedAt, &a.HeartbeatAt, &a.NodeLock, &a.Alive)
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

// NodeLock holds the node's session advisory lock on a connection of its
// own; see store.Cluster. The session asks the server to probe its client
// with TCP keepalives, so that the lock of an agent whose host vanished
// without closing the connection is freed in seconds, not hours.
func (s *Store) NodeLock(ctx context.Context, node string) (store.NodeLockState, error) {
	c := &s.cluster
	c.nodeMu.Lock()
	defer c.nodeMu.Unlock()
	if c.node != "" && c.node != node {
		return store.NodeLockState{}, fmt.Errorf("node lock: this store holds the lock of node %q, not %q", c.node, node)
	}
	var (
		st store.NodeLockState
		up float64 // seconds
	)
	if c.nodeConn != nil {
		err := c.nodeConn.QueryRow(ctx, `SELECT EXTRACT(EPOCH FROM now() - pg_postmaster_start_time())::float8`).Scan(&up)
		if err == nil {
			st.ServerUptime = time.Duration(up * float64(time.Second))
			return st, nil
		}
		if ctx.Err() != nil {
			return st, dbErr(err, "node lock: check the session of node %q", node)
		}
		c.nodeConn.Close(context.Background())
		c.nodeConn = nil
	}
	st.Renewed = c.node != "" // held before, and lost
	cfg := s.sessionConfig("jobbridge node " + node)
	for k, v := range map[string]string{"tcp_keepalives_idle": "5", "tcp_keepalives_interval": "2", "tcp_keepalives_count": "3"} {
		cfg.RuntimeParams[k] = v
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return st, dbErr(err, "node lock: connect")
	}
	var got bool
	err = conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, hashtext($2)), EXTRACT(EPOCH FROM now() - pg_postmaster_start_time())::float8`,
		nodeLockSpace, node).Scan(&got, &up)
	if err != nil {
		conn.Close(context.Background())
		return st, dbErr(err, "node lock: lock node %q", node)
	}
	if !got {
		conn.Close(context.Background())
		return st, fmt.Errorf("node lock: another session holds the lock of node %q: %w", node, store.ErrConflict)
	}
	st.ServerUptime = time.Duration(up * float64(time.Second))
	c.node, c.nodeConn = node, conn
	return st, nil
}

// closeCluster drops the leadership and node lock connections, and with
// them their locks.
func (s *Store) closeCluster() {
	s.cluster.mu.Lock()
	if s.cluster.leader != nil {
		s.cluster.leader.Close(context.Background())
		s.cluster.leader = nil
	}
	s.cluster.mu.Unlock()
	s.cluster.nodeMu.Lock()
	if s.cluster.nodeConn != nil {
		s.cluster.nodeConn.Close(context.Background())
		s.cluster.nodeConn = nil
	}
	s.cluster.nodeMu.Unlock()
}
