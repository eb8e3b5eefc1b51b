package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mzt-dev/mzt/config"
)

// ServiceCmd is `mzt service install|uninstall`.
type ServiceCmd struct {
	Install   ServiceInstallCmd   `cmd:"" help:"Write a systemd unit that runs this conductor (it keeps running sheets across restarts)."`
	Uninstall ServiceUninstallCmd `cmd:"" help:"Remove the systemd unit written by install."`
}

type serviceFlags struct {
	User bool   `help:"A user unit (~/.config/systemd/user) instead of a system one (/etc/systemd/system)."`
	Dir  string `hidden:"" type:"path" help:"Write the unit to this folder instead."`
}

// unitPath is where the unit of this conductor (or clone) goes.
func (f serviceFlags) unitPath(g *Globals) (string, error) {
	dir := f.Dir
	switch {
	case dir != "":
	case f.User:
		base := os.Getenv("XDG_CONFIG_HOME")
		if base == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", fmt.Errorf("find the user's home: %w", err)
			}
			base = filepath.Join(home, ".config")
		}
		dir = filepath.Join(base, "systemd", "user")
	default:
		dir = "/etc/systemd/system"
	}
	return filepath.Join(dir, unitName(g.paths)), nil
}

func unitName(p config.Paths) string {
	if p.Clone != "" {
		return "mzt-" + p.Clone + ".service"
	}
	return "mzt.service"
}

// ServiceInstallCmd writes the unit.
type ServiceInstallCmd struct {
	serviceFlags
	Config string `help:"Config file the unit's conductor reads (default: <home>/conductor.toml when it exists)." type:"path" placeholder:"FILE"`
}

func (c *ServiceInstallCmd) Run(g *Globals) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the mzt executable: %w", err)
	}
	if exe, err = filepath.EvalSymlinks(exe); err != nil {
		return fmt.Errorf("find the mzt executable: %w", err)
	}
	f := startFlags{Config: c.Config}
	cfg, err := config.Load(f.loadOptions(g.paths))
	if err != nil {
		return failf(exitUsage, "", "%v", err)
	}
	path, err := c.unitPath(g)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return failf(exitFailed, "", "create %s: %v", filepath.Dir(path), err)
	}
	text := unitText(unitOptions{Exe: exe, Paths: g.paths, Config: c.Config, User: c.User, Cgroups: cfg.Cgroups})
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return failf(exitFailed, "", "write %s: %v", path, err)
	}
	ctl := "systemctl"
	if c.User {
		ctl += " --user"
	}
	g.printf("wrote %s\n", path)
	g.printf("next: %s daemon-reload && %s enable --now %s\n", ctl, ctl, unitName(g.paths))
	return nil
}

// ServiceUninstallCmd removes the unit.
type ServiceUninstallCmd struct {
	serviceFlags
}

func (c *ServiceUninstallCmd) Run(g *Globals) error {
	path, err := c.unitPath(g)
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return failf(exitFailed, "", "no unit at %s", path)
		}
		return failf(exitFailed, "", "remove %s: %v", path, err)
	}
	g.printf("removed %s\n", path)
	return nil
}

type unitOptions struct {
	Exe     string
	Paths   config.Paths
	Config  string
	User    bool
	Cgroups bool
}

// unitText is a unit that works with live restart: systemd waits for the
// conductor's READY=1 (Type=notify), and on stop or restart signals the
// conductor alone (KillMode=process), so the supervisors and the sheets
// they hold are left for the next conductor to adopt; SIGTERM still
// drains as on a terminal. Delegate=yes hands the conductor its cgroup
// subtree, where it makes one cgroup per sheet.
func unitText(o unitOptions) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("[Unit]")
	w("Description=mzt conductor (%s)", o.Paths.Home)
	w("After=network-online.target")
	w("Wants=network-online.target")
	w("")
	w("[Service]")
	w("Type=notify")
	w("NotifyAccess=main")
	w("Environment=%s", systemdQuote("MARIANNE_HOME="+o.Paths.BaseHome))
	start := systemdQuote(o.Exe)
	if o.Paths.Clone != "" {
		start += " --clone " + systemdQuote(o.Paths.Clone)
	}
	start += " start --foreground"
	if o.Config != "" {
		start += " --config " + systemdQuote(o.Config)
	}
	w("ExecStart=%s", start)
	w("ExecReload=/bin/kill -HUP $MAINPID")
	w("KillMode=process")
	if o.Cgroups {
		w("Delegate=yes")
	}
	w("Restart=on-failure")
	w("TimeoutStopSec=infinity")
	w("")
	w("[Install]")
	if o.User {
		w("WantedBy=default.target")
	} else {
		w("WantedBy=multi-user.target")
	}
	return b.String()
}

// systemdQuote quotes a word of a unit's command line or assignment.
func systemdQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\"'\\$%;") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `$$`, `%`, `%%`)
	return `"` + r.Replace(s) + `"`
}
