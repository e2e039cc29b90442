package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/agent/internal/service"
	"github.com/jobbridge/jobbridge/agent/internal/store/sqlite"
	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/client"
)

// maintenanceOps is where the maintenance commands act: the database
// directly (the agents take the change within their 2s cache), or, while an
// agent holds the SQLite file, that agent's API. As for tokens.
type maintenanceOps interface {
	get(ctx context.Context) (api.Maintenance, error)
	set(ctx context.Context, m api.Maintenance) (api.Maintenance, error)
	close()
}

func newMaintenanceCmd(getenv func(string) string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "maintenance",
		Short: "show, turn on and turn off maintenance mode (the same as /api/v1/maintenance)",
		RunE:  groupCommand,
	}
	status := maintenanceSubcommand(getenv, &cobra.Command{Use: "status", Short: "show the maintenance mode", Args: noArgs},
		func(ctx context.Context, out io.Writer, ops maintenanceOps) error {
			m, err := ops.get(ctx)
			if err != nil {
				return err
			}
			printMaintenance(out, m)
			return nil
		})

	var reason, until string
	var lasting time.Duration
	on := maintenanceSubcommand(getenv, &cobra.Command{
		Use:   "on [--reason TEXT] [--until RFC3339 | --for DURATION]",
		Short: "turn maintenance on: scheduled fires are skipped, manual runs need force, running runs go on",
		Args:  noArgs,
	}, func(ctx context.Context, out io.Writer, ops maintenanceOps) error {
		m := api.Maintenance{On: true, Reason: reason}
		switch {
		case until != "" && lasting != 0:
			return usageErrorf("give --until or --for, not both")
		case until != "":
			t, err := time.Parse(time.RFC3339, until)
			if err != nil {
				return usageErrorf("--until %q is not an RFC 3339 time (2026-12-24T06:00:00Z)", until)
			}
			m.Until = &t
		case lasting < 0:
			return usageErrorf("--for %s is negative", lasting)
		case lasting > 0:
			t := time.Now().Add(lasting).UTC().Truncate(time.Second)
			m.Until = &t
		}
		got, err := ops.set(ctx, m)
		if err != nil {
			return err
		}
		printMaintenance(out, got)
		return nil
	})
	on.Flags().StringVar(&reason, "reason", "", "why, shown in the console and in every run it skips (up to 500 bytes)")
	on.Flags().StringVar(&until, "until", "", "when it ends by itself (RFC 3339)")
	on.Flags().DurationVar(&lasting, "for", 0, "how long until it ends by itself (e.g. 2h)")

	off := maintenanceSubcommand(getenv, &cobra.Command{Use: "off", Short: "turn maintenance off", Args: noArgs},
		func(ctx context.Context, out io.Writer, ops maintenanceOps) error {
			got, err := ops.set(ctx, api.Maintenance{On: false})
			if err != nil {
				return err
			}
			printMaintenance(out, got)
			return nil
		})
	cmd.AddCommand(status, on, off)
	return cmd
}

func printMaintenance(out io.Writer, m api.Maintenance) {
	if !m.On {
		fmt.Fprintln(out, "maintenance is off")
		return
	}
	line := "maintenance is on"
	if m.Since != nil {
		line += " since " + m.Since.UTC().Format(time.RFC3339)
	}
	if m.By != "" {
		line += " (by " + m.By + ")"
	}
	if m.Until != nil {
		line += " until " + m.Until.UTC().Format(time.RFC3339)
	} else {
		line += " until turned off"
	}
	if m.Reason != "" {
		line += ": " + m.Reason
	}
	fmt.Fprintln(out, line)
}

// maintenanceSubcommand gives cmd the settings that find the database and
// a RunE that opens where the mode lives and calls run there.
func maintenanceSubcommand(getenv func(string) string, cmd *cobra.Command, run func(context.Context, io.Writer, maintenanceOps) error) *cobra.Command {
	var cfg agent.Config
	resolve := bindSettings(cmd, getenv, &cfg, "data-dir", "database-url", "admin-token")
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		if err := resolve(); err != nil {
			return err
		}
		ops, err := openMaintenanceOps(c.Context(), cfg)
		if err != nil {
			return err
		}
		defer ops.close()
		err = run(c.Context(), c.OutOrStdout(), ops)
		var verr *service.ValidationError
		var cerr *client.Error
		if errors.As(err, &verr) || (errors.As(err, &cerr) && cerr.Problem.Status == 400) {
			return &ExitError{Code: 2, Err: err}
		}
		return err
	}
	return cmd
}

func openMaintenanceOps(ctx context.Context, cfg agent.Config) (maintenanceOps, error) {
	s, err := agent.OpenStore(ctx, cfg)
	var inUse *sqlite.InUseError
	if errors.As(err, &inUse) {
		t, err := agentTokenOps(cfg)
		if err != nil {
			return nil, err
		}
		return apiMaintenanceOps{c: t.(apiTokenOps).c}, nil
	}
	if err != nil {
		return nil, err
	}
	return storeMaintenanceOps{svc: service.New(service.Config{Store: s}), close_: func() { s.Close() }}, nil
}

// storeMaintenanceOps works on the database directly.
type storeMaintenanceOps struct {
	svc    *service.Service
	close_ func()
}

func (o storeMaintenanceOps) get(ctx context.Context) (api.Maintenance, error) {
	m, err := o.svc.Maintenance(ctx)
	return maintenanceToAPI(m.On, m.Until, m.Reason, m.By, m.Since), err
}

func (o storeMaintenanceOps) set(ctx context.Context, in api.Maintenance) (api.Maintenance, error) {
	m, err := o.svc.MaintenanceSet(ctx, cliActor, in)
	return maintenanceToAPI(m.On, m.Until, m.Reason, m.By, m.Since), err
}

func (o storeMaintenanceOps) close() { o.close_() }

func maintenanceToAPI(on bool, until time.Time, reason, by string, since time.Time) api.Maintenance {
	m := api.Maintenance{On: on, Reason: reason, By: by}
	if !until.IsZero() {
		m.Until = &until
	}
	if !since.IsZero() {
		m.Since = &since
	}
	return m
}

// apiMaintenanceOps goes through the running agent.
type apiMaintenanceOps struct{ c *client.Client }

func (o apiMaintenanceOps) get(ctx context.Context) (api.Maintenance, error) {
	return o.c.Maintenance(ctx)
}

func (o apiMaintenanceOps) set(ctx context.Context, m api.Maintenance) (api.Maintenance, error) {
	return o.c.SetMaintenance(ctx, m)
}

func (apiMaintenanceOps) close() {}
