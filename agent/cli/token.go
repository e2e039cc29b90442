package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/agent/internal/service"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/sqlite"
	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/client"
	"github.com/jobbridge/jobbridge/shared/localagent"
)

// tokenOps is where the token commands act: the database directly, or,
// while an agent holds the SQLite file, that agent's API.
type tokenOps interface {
	create(ctx context.Context, name, role string) (api.NewToken, error)
	list(ctx context.Context) ([]api.Token, error)
	revoke(ctx context.Context, name string) error
	close()
}

func newTokenCmd(getenv func(string) string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "create, list and revoke API tokens (the same as /api/v1/tokens)",
		RunE:  groupCommand,
	}
	var name, role string
	create := tokenSubcommand(getenv, &cobra.Command{
		Use:   "create --name NAME --role viewer|operator|admin",
		Short: "create a token; it is printed alone on the last line, once",
		Args:  noArgs,
	}, func(ctx context.Context, out io.Writer, ops tokenOps, _ []string) error {
		if name == "" || role == "" {
			return usageErrorf("token create needs --name and --role")
		}
		t, err := ops.create(ctx, name, role)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "created token %q with role %s; keep it now, it is not shown again:\n%s\n", t.Name, t.Role, t.Secret)
		return nil
	})
	create.Flags().StringVar(&name, "name", "", "the token's name (who uses it)")
	create.Flags().StringVar(&role, "role", "", "viewer (read), operator (also trigger, cancel, restart) or admin (also rules and tokens)")

	list := tokenSubcommand(getenv, &cobra.Command{Use: "list", Short: "list the tokens (never their secrets)", Args: noArgs},
		func(ctx context.Context, out io.Writer, ops tokenOps, _ []string) error {
			ts, err := ops.list(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLE\tCREATED\tLAST USED")
			for _, t := range ts {
				last := "never"
				if t.LastUsedAt != nil {
					last = t.LastUsedAt.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, t.Role, t.CreatedAt.Format(time.RFC3339), last)
			}
			return tw.Flush()
		})

	revoke := tokenSubcommand(getenv, &cobra.Command{Use: "revoke NAME", Short: "revoke a token", Args: exactlyOne("NAME")},
		func(ctx context.Context, out io.Writer, ops tokenOps, args []string) error {
			if err := ops.revoke(ctx, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(out, "revoked token %q\n", args[0])
			return nil
		})

	cmd.AddCommand(create, list, revoke)
	return cmd
}

// tokenSubcommand gives cmd the settings that find the database and a RunE
// that opens where tokens live and calls run there.
func tokenSubcommand(getenv func(string) string, cmd *cobra.Command, run func(context.Context, io.Writer, tokenOps, []string) error) *cobra.Command {
	var cfg agent.Config
	resolve := bindSettings(cmd, getenv, &cfg, "data-dir", "database-url", "admin-token")
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if err := resolve(); err != nil {
			return err
		}
		ops, err := openTokenOps(c.Context(), cfg)
		if err != nil {
			return err
		}
		defer ops.close()
		return tokenError(run(c.Context(), c.OutOrStdout(), ops, args))
	}
	return cmd
}

func exactlyOne(what string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usageErrorf("%s needs exactly one argument, %s", c.CommandPath(), what)
		}
		return nil
	}
}

// tokenError turns validation and conflict errors into usage errors.
func tokenError(err error) error {
	var verr *service.ValidationError
	switch {
	case errors.As(err, &verr):
		return &ExitError{Code: 2, Err: err}
	case errors.Is(err, store.ErrConflict):
		return &ExitError{Code: 1, Err: fmt.Errorf("a token with that name exists already: %w", err)}
	case errors.Is(err, store.ErrNotFound):
		return &ExitError{Code: 1, Err: fmt.Errorf("no such token: %w", err)}
	}
	return err
}

func openTokenOps(ctx context.Context, cfg agent.Config) (tokenOps, error) {
	s, err := agent.OpenStore(ctx, cfg)
	var inUse *sqlite.InUseError
	if errors.As(err, &inUse) {
		return agentTokenOps(cfg)
	}
	if err != nil {
		return nil, err
	}
	return storeTokenOps{s: s, svc: service.New(service.Config{Store: s})}, nil
}

// storeTokenOps works on the database directly.
type storeTokenOps struct {
	s   store.Store
	svc *service.Service
}

const cliActor = "cli"

func (o storeTokenOps) create(ctx context.Context, name, role string) (api.NewToken, error) {
	secret, t, err := o.svc.TokenCreate(ctx, cliActor, name, role)
	return api.NewToken{Token: api.Token{Name: t.Name, Role: string(t.Role), CreatedAt: t.CreatedAt}, Secret: secret}, err
}

func (o storeTokenOps) list(ctx context.Context) ([]api.Token, error) {
	ts, err := o.s.TokenList(ctx)
	out := make([]api.Token, len(ts))
	for i, t := range ts {
		out[i] = api.Token{Name: t.Name, Role: string(t.Role), CreatedAt: t.CreatedAt}
		if !t.LastUsedAt.IsZero() {
			lu := t.LastUsedAt
			out[i].LastUsedAt = &lu
		}
	}
	return out, err
}

func (o storeTokenOps) revoke(ctx context.Context, name string) error {
	return o.svc.TokenRevoke(ctx, cliActor, name)
}

func (o storeTokenOps) close() { o.s.Close() }

// apiTokenOps goes through the running agent, found by the files it keeps
// in the data dir.
type apiTokenOps struct{ c *client.Client }

func agentTokenOps(cfg agent.Config) (tokenOps, error) {
	dir := cfg.DataDir
	if dir == "" {
		dir = agent.DefaultDataDir()
	}
	url, err := os.ReadFile(filepath.Join(dir, localagent.URLFile))
	if err != nil {
		return nil, fmt.Errorf("an agent holds the database but its address is unknown: %w", err)
	}
	token := cfg.AdminToken
	if token == "" {
		b, err := os.ReadFile(filepath.Join(dir, localagent.AdminTokenFile))
		if err != nil {
			return nil, fmt.Errorf("an agent holds the database; set JOBBRIDGE_ADMIN_TOKEN to reach it through its API: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	return apiTokenOps{c: client.New(strings.TrimSpace(string(url)), token)}, nil
}

func (o apiTokenOps) create(ctx context.Context, name, role string) (api.NewToken, error) {
	return o.c.CreateToken(ctx, api.TokenInput{Name: name, Role: role})
}

func (o apiTokenOps) list(ctx context.Context) ([]api.Token, error) { return o.c.Tokens(ctx) }

func (o apiTokenOps) revoke(ctx context.Context, name string) error {
	return o.c.RevokeToken(ctx, name)
}

func (o apiTokenOps) close() {}
