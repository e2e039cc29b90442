package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"regexp"

	"github.com/jackc/pgx/v5"
)

// ScratchDatabase is an empty database created on a server for one
// measurement (see agent/internal/burst), to be dropped when it is over.
type ScratchDatabase struct {
	// Name is the database's name: the prefix and 16 random hex digits.
	Name string
	// URL is the server's URL naming this database instead of its own.
	URL string

	server string
}

// scratchPrefix is what a scratch database's name may start with: it is
// put into SQL unquoted.
var scratchPrefix = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,40}$`)

// CreateScratchDatabase connects to serverURL (a postgres:// URL of any
// database the role may CREATE DATABASE from) and creates an empty database
// named prefix + 16 random hex digits. Drop it with Drop, also when what
// used it failed.
func CreateScratchDatabase(ctx context.Context, serverURL, prefix string) (*ScratchDatabase, error) {
	if !scratchPrefix.MatchString(prefix) {
		return nil, fmt.Errorf("create scratch database: prefix %q is not lower-case letters, digits and _", prefix)
	}
	u, err := url.Parse(serverURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// The error may quote the URL, password included: say only what is wrong.
		return nil, errors.New("create scratch database: the server's URL is not a postgres:// URL")
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	db := &ScratchDatabase{Name: prefix + hex.EncodeToString(b), server: serverURL}
	if err := db.admin(ctx, "CREATE DATABASE "+db.Name); err != nil {
		return nil, fmt.Errorf("create scratch database: %w", err)
	}
	u.Path = "/" + db.Name
	u.RawPath = ""
	db.URL = u.String()
	return db, nil
}

// Drop drops the database, closing the connections still open to it.
func (db *ScratchDatabase) Drop(ctx context.Context) error {
	if err := db.admin(ctx, "DROP DATABASE IF EXISTS "+db.Name+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop scratch database %s: %w", db.Name, err)
	}
	return nil
}

// admin runs one statement on the server's own database.
func (db *ScratchDatabase) admin(ctx context.Context, stmt string) error {
	cfg, err := pgx.ParseConfig(db.server)
	if err != nil {
		return errors.New("the server's URL is not a valid postgres:// URL")
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = defaultConnectTimeout
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return dbErr(err, "connect to %s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return dbErr(err, "%s", stmt)
	}
	return nil
}
