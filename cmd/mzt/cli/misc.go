package cli

import (
	"fmt"
	"runtime"

	"github.com/mzt-dev/mzt/config"
)

// VersionCmd is `mzt version`.
type VersionCmd struct {
	JSON bool `help:"Print one JSON object."`
}

func (c *VersionCmd) Run(g *Globals) error {
	if c.JSON {
		return g.printJSON(struct {
			Schema    string `json:"schema"`
			Version   string `json:"version"`
			GoVersion string `json:"go_version"`
		}{schema, Version, runtime.Version()})
	}
	g.printf("mzt %s (%s)\n", Version, runtime.Version())
	return nil
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
