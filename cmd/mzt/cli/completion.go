package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/alecthomas/kong"
)

// CompletionCmd is `mzt completion bash|zsh|fish`: scripts generated from the
// command tree itself, so they never drift from the real flags.
type CompletionCmd struct {
	Shell string `arg:"" enum:"bash,zsh,fish" help:"bash, zsh or fish."`
}

func (c *CompletionCmd) Run(g *Globals, k *kong.Context) error {
	tree := commandTree(k.Model.Node)
	switch c.Shell {
	case "bash":
		g.printf("%s", bashScript(tree))
	case "zsh":
		g.printf("#compdef mzt\nautoload -U +X bashcompinit && bashcompinit\n%s", bashScript(tree))
	case "fish":
		g.printf("%s", fishScript(tree))
	}
	return nil
}

// commandTree maps "" (the root) and each visible command name to its words.
type completionTree struct {
	commands []string
	flags    map[string][]string // command name ("" = global) -> flags
}

func commandTree(root *kong.Node) completionTree {
	t := completionTree{flags: map[string][]string{}}
	for _, f := range root.Flags {
		if !f.Hidden {
			t.flags[""] = append(t.flags[""], "--"+f.Name)
		}
	}
	var walk func(prefix string, n *kong.Node)
	walk = func(prefix string, n *kong.Node) {
		for _, child := range n.Children {
			if child.Hidden {
				continue
			}
			name := strings.TrimSpace(prefix + " " + child.Name)
			t.commands = append(t.commands, name)
			for _, f := range child.Flags {
				if !f.Hidden {
					t.flags[name] = append(t.flags[name], "--"+f.Name)
				}
			}
			walk(name, child)
		}
	}
	walk("", root)
	sort.Strings(t.commands)
	return t
}

func bashScript(t completionTree) string {
	var b strings.Builder
	b.WriteString("_mzt() {\n  local cur=\"${COMP_WORDS[COMP_CWORD]}\" cmd=\"\" i\n")
	b.WriteString("  for ((i=1; i<COMP_CWORD; i++)); do case \"${COMP_WORDS[i]}\" in -*) ;; *) cmd=\"${cmd:+$cmd }${COMP_WORDS[i]}\";; esac; done\n")
	b.WriteString("  local words\n  case \"$cmd\" in\n")
	var top []string
	for _, c := range t.commands {
		if !strings.Contains(c, " ") {
			top = append(top, c)
		}
	}
	for _, c := range t.commands {
		var subs []string
		for _, s := range t.commands {
			if rest, ok := strings.CutPrefix(s, c+" "); ok && !strings.Contains(rest, " ") {
				subs = append(subs, rest)
			}
		}
		words := append(append([]string{}, subs...), append(t.flags[c], t.flags[""]...)...)
		fmt.Fprintf(&b, "    %q) words=%q ;;\n", c, strings.Join(words, " "))
	}
	fmt.Fprintf(&b, "    *) words=%q ;;\n  esac\n", strings.Join(append(top, t.flags[""]...), " "))
	b.WriteString("  COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n  [ ${#COMPREPLY[@]} -eq 0 ] && COMPREPLY=($(compgen -f -- \"$cur\"))\n}\ncomplete -F _mzt mzt\n")
	return b.String()
}

func fishScript(t completionTree) string {
	var b strings.Builder
	b.WriteString("complete -c mzt -f\n")
	for _, f := range t.flags[""] {
		fmt.Fprintf(&b, "complete -c mzt -l %s\n", strings.TrimPrefix(f, "--"))
	}
	for _, c := range t.commands {
		parts := strings.Fields(c)
		name := parts[len(parts)-1]
		cond := "__fish_use_subcommand"
		if len(parts) > 1 {
			cond = "__fish_seen_subcommand_from " + parts[len(parts)-2]
		}
		fmt.Fprintf(&b, "complete -c mzt -n '%s' -a %s\n", cond, name)
		for _, f := range t.flags[c] {
			fmt.Fprintf(&b, "complete -c mzt -n '__fish_seen_subcommand_from %s' -l %s\n", name, strings.TrimPrefix(f, "--"))
		}
	}
	return b.String()
}
