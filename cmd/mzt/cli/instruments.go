package cli

import (
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/mzt-dev/mzt/config/instrument"
)

// InstrumentsCmd is `mzt instruments`.
type InstrumentsCmd struct {
	JSON bool `help:"Print one JSON object."`
}

type instrumentJSON struct {
	Name          string `json:"name"`
	Executable    string `json:"executable"`
	Path          string `json:"path"`
	Available     bool   `json:"available"`
	Source        string `json:"source"`
	PromptVia     string `json:"prompt_via"`
	MaxConcurrent int    `json:"max_concurrent"`
}

func (c *InstrumentsCmd) Run(g *Globals) error {
	profiles, err := instrument.Load(g.paths.Instruments)
	if err != nil && len(profiles) == 0 {
		return failf(exitUsage, "", "instrument profiles:\n%v", err)
	}
	names := make([]string, 0, len(profiles))
	for n := range profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	list := make([]instrumentJSON, 0, len(names))
	for _, n := range names {
		p := profiles[n]
		path, lerr := p.LookPath()
		list = append(list, instrumentJSON{Name: n, Executable: p.Executable, Path: path, Available: lerr == nil,
			Source: p.Source, PromptVia: p.PromptVia, MaxConcurrent: p.MaxConcurrent})
	}
	if c.JSON {
		return g.printJSON(struct {
			Schema      string           `json:"schema"`
			Instruments []instrumentJSON `json:"instruments"`
		}{schema, list})
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	tw.Write([]byte("NAME\tEXECUTABLE\tON PATH\tPROMPT\tSOURCE\n"))
	for _, in := range list {
		found := "no"
		if in.Available {
			found = in.Path
		}
		tw.Write([]byte(in.Name + "\t" + in.Executable + "\t" + found + "\t" + in.PromptVia + "\t" + in.Source + "\n"))
	}
	tw.Flush()
	g.printf("%s", b.String())
	if err != nil {
		g.env.Stderr.Write([]byte("Warning: " + err.Error() + "\n"))
	}
	return nil
}
