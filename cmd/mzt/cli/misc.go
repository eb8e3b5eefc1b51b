package cli

import (
	"context"
	"fmt"
	"runtime"

	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/messages"
)

// VersionCmd is `mzt version`.
type VersionCmd struct {
	JSON bool `help:"Print one JSON object."`
}

func (c *VersionCmd) Run(g *Globals) error {
	name := "mzt"
	if g.env.RunConductor != nil {
		// The conductor binary answers for itself alone: mzt asks it.
		name = conductorBinary
		if c.JSON {
			return g.printJSON(versionJSON{Schema: schema, Version: Version, GoVersion: runtime.Version()})
		}
		g.printf("%s %s (%s)\n", name, Version, runtime.Version())
		return nil
	}
	v := g.versions()
	if c.JSON {
		return g.printJSON(v)
	}
	g.printf("mzt %s (%s)\n", v.Version, v.GoVersion)
	switch {
	case v.ConductorBinary != "":
		g.printf("%s %s\n", conductorBinary, v.ConductorBinary)
	case v.binaryErr != nil:
		g.printf("%s: %v\n", conductorBinary, v.binaryErr)
	}
	if v.Running != "" {
		g.printf("running conductor %s\n", v.Running)
	} else {
		g.printf("running conductor: none\n")
	}
	for _, w := range v.Warnings {
		fmt.Fprintf(g.env.Stderr, "Warning: %s\n", w)
	}
	return nil
}

// versionJSON is `mzt version --json`; the conductor fields are empty when
// there is no conductor binary or no running conductor.
type versionJSON struct {
	Schema          string   `json:"schema"`
	Version         string   `json:"version"`
	GoVersion       string   `json:"go_version"`
	ConductorBinary string   `json:"conductor_binary,omitempty"`
	Running         string   `json:"running_conductor,omitempty"`
	Warnings        []string `json:"warnings,omitempty"`
	binaryErr       error
}

// versions gathers the CLI's, the conductor binary's and the running
// conductor's versions, with a warning for each that differs from the CLI's.
func (g *Globals) versions() versionJSON {
	v := versionJSON{Schema: schema, Version: Version, GoVersion: runtime.Version()}
	v.ConductorBinary, v.binaryErr = g.conductorBinaryVersion()
	if g.Remote == "" {
		ctx, cancel := context.WithTimeout(g.ctx, healthTimeout)
		defer cancel()
		if h, err := call[*messages.HealthResponse](g, ctx, &messages.HealthRequest{}); err == nil {
			v.Running = h.GetVersion()
		}
	}
	v.Warnings = versionWarnings(Version, v.ConductorBinary, v.Running)
	return v
}

// versionWarnings says which of the conductor versions differ from the CLI's.
func versionWarnings(cli, binary, running string) []string {
	var w []string
	if binary != "" && binary != cli {
		w = append(w, fmt.Sprintf("%s is %s, mzt is %s: install both from one build", conductorBinary, binary, cli))
	}
	if running != "" && running != cli {
		w = append(w, fmt.Sprintf("the running conductor is %s, mzt is %s: mzt restart runs the installed one", running, cli))
	}
	return w
}

// ConfigCmd is `mzt config default|dump`.
type ConfigCmd struct {
	Default ConfigDefaultCmd `cmd:"" help:"Print the default conductor.toml."`
	Dump    ConfigDumpCmd    `cmd:"" help:"Print the settings a conductor would run with (defaults, file, profile and flags merged)."`
}

// ConfigDefaultCmd prints the defaults.
type ConfigDefaultCmd struct{}

func (c *ConfigDefaultCmd) Run(g *Globals) error {
	s, err := config.Defaults().TOML()
	if err != nil {
		return err
	}
	g.printf("%s", s)
	return nil
}

// ConfigDumpCmd prints the merged settings.
type ConfigDumpCmd struct {
	Config   string `help:"Config file (default: <home>/conductor.toml when it exists)." type:"path" placeholder:"FILE"`
	Profile  string `help:"Built-in profile: dev, intensive or minimal." enum:"dev,intensive,minimal," default:""`
	LogLevel string `help:"Log level: debug, info, warn or error." enum:"debug,info,warn,error," default:""`
}

func (c *ConfigDumpCmd) Run(g *Globals) error {
	f := startFlags{Config: c.Config, Profile: c.Profile, LogLevel: c.LogLevel}
	cfg, err := config.Load(f.loadOptions(g.paths))
	if err != nil {
		return failf(exitUsage, "", "%v", err)
	}
	s, err := cfg.TOML()
	if err != nil {
		return err
	}
	g.printf("# %s\n%s", fmt.Sprintf("defaults < %s < profile %q < flags", f.loadOptions(g.paths).File, c.Profile), s)
	return nil
}
