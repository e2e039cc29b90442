// Command tui is the jobbridge console. It connects to --agent URL with
// --token (JOBBRIDGE_AGENT_URL, JOBBRIDGE_TOKEN); with neither, to the agent
// running on this machine, whose address and admin token are in its data
// dir.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/jobbridge/jobbridge/shared/client"
	"github.com/jobbridge/jobbridge/shared/localagent"
	"github.com/jobbridge/jobbridge/tui"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// Target is the agent the console talks to, and how it was found.
type target struct {
	url, token string
}

// resolve picks the agent and the token: flags, then the environment, then
// the local agent's data dir.
func resolve(flagURL, flagToken string, getenv func(string) string) (target, error) {
	t := target{url: flagURL, token: flagToken}
	if t.url == "" {
		t.url = getenv("JOBBRIDGE_AGENT_URL")
	}
	if t.token == "" {
		t.token = getenv("JOBBRIDGE_TOKEN")
	}
	if t.url != "" && t.token != "" {
		return t, nil
	}
	local, err := localagent.Find(getenv)
	if err != nil {
		return t, err
	}
	if t.url == "" {
		if local.URL == "" {
			return t, fmt.Errorf("no agent to talk to: give --agent URL (or JOBBRIDGE_AGENT_URL), or start an agent on this machine (no %s yet)", local.Dir+"/agent.url")
		}
		t.url = local.URL
	}
	if t.token == "" {
		// The admin token on file belongs to the local agent only.
		if local.Token == "" || t.url != local.URL {
			return t, errors.New("no token: give --token (or JOBBRIDGE_TOKEN); `agent token create --name NAME --role viewer|operator|admin` makes one")
		}
		t.token = local.Token
	}
	return t, nil
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tui", flag.ContinueOnError)
	fs.SetOutput(stderr)
	agentURL := fs.String("agent", "", "the agent's base URL, e.g. http://127.0.0.1:8080 [$JOBBRIDGE_AGENT_URL]")
	token := fs.String("token", "", "API token [$JOBBRIDGE_TOKEN]")
	start := fs.String("view", "runs", `first view, as after ":" (e.g. "runs failed", "rules")`)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: tui [--agent URL] [--token TOKEN] [--view VIEW]")
		fmt.Fprintln(stderr, "With no agent and no token, the console finds the agent running on this machine.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "tui: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if err := tui.CheckStart(*start); err != nil {
		fmt.Fprintln(stderr, "tui: --view:", err)
		return 2
	}
	t, err := resolve(*agentURL, *token, getenv)
	if err != nil {
		fmt.Fprintln(stderr, "tui:", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	r := lipgloss.NewRenderer(stdout)
	// Ask the terminal for its background now, before the program owns
	// its input, so adaptive colours pick the right variant.
	r.SetHasDarkBackground(r.HasDarkBackground())
	// The renderer and the clipboard (y, Y) share the output, so that a
	// copy never lands inside a frame.
	out := tui.SharedOutput(stdout)
	m := tui.New(ctx, tui.Options{Client: client.New(t.url, t.token), Renderer: r, Start: *start, Clipboard: out})
	p := tea.NewProgram(m, tea.WithAltScreen(), tea.WithContext(ctx), tea.WithOutput(out))
	if _, err := p.Run(); err != nil && !errors.Is(err, tea.ErrProgramKilled) {
		fmt.Fprintln(stderr, "tui:", err)
		return 1
	}
	return 0
}
