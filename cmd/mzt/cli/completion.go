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
	b.WriteString(bashDynamic)
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
	b.WriteString("  COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n  [ ${#COMPREPLY[@]} -eq 0 ] && COMPREPLY=($(compgen -f -- \"$cur\"))\n}\ncomplete -o nosort -F _mzt mzt 2>/dev/null || complete -F _mzt mzt\n")
	return b.String()
}

func fishScript(t completionTree) string {
	var b strings.Builder
	b.WriteString("complete -c mzt -f\n")
	b.WriteString(fishDynamic)
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

// bashDynamic completes the values the conductor knows (job ids, active
// first; groups), clone names and score files; it asks `mzt __complete`,
// which gives up after a moment and then offers nothing.
const bashDynamic = `  local prev="${COMP_WORDS[COMP_CWORD-1]}" kind=""
  case "$prev" in
    --after|--job) kind=job ;;
    --group) kind=group ;;
    --clone) kind=clone ;;
  esac
  if [ -z "$kind" ] && [[ "$cur" != -* ]]; then
    case "$cmd" in
      status|logs|pause*|resume*|cancel*) kind=job ;;
      "group rm") kind=group ;;
      run*|validate|insights) COMPREPLY=($(compgen -f -X '!*.toml' -- "$cur") $(compgen -d -S / -- "$cur")); return ;;
    esac
  fi
  if [ -n "$kind" ]; then
    local IFS=$'\n'
    COMPREPLY=($(compgen -W "$(command "${COMP_WORDS[0]}" __complete "$kind" 2>/dev/null)" -- "$cur"))
    return
  fi
`

// fishDynamic is bashDynamic for fish.
const fishDynamic = `complete -c mzt -n '__fish_seen_subcommand_from status logs pause resume cancel' -k -a '(mzt __complete job 2>/dev/null)'
complete -c mzt -l after -x -k -a '(mzt __complete job 2>/dev/null)'
complete -c mzt -l job -x -k -a '(mzt __complete job 2>/dev/null)'
complete -c mzt -l group -x -a '(mzt __complete group 2>/dev/null)'
complete -c mzt -n '__fish_seen_subcommand_from rm' -x -a '(mzt __complete group 2>/dev/null)'
complete -c mzt -l clone -x -a '(mzt __complete clone 2>/dev/null)'
complete -c mzt -n '__fish_seen_subcommand_from run validate insights' -F -a '(__fish_complete_suffix .toml)'
`
