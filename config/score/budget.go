package score

import (
	"errors"
	"fmt"
	"strings"
	"text/template"
	"text/template/parse"
)

// Rendering is bounded: Go templates cannot be interrupted, so a template
// that loops for ever ({{range 100000}}{{range 100000}}{{end}}{{end}}) would
// hold a core and whatever waits on it (mzt validate, a job's next sheet)
// for as long as it runs. Every template is rewritten after parsing so that
// each pass through a range body and each call of a defined template first
// pays for the nodes it may execute; the functions that build strings pay for
// the bytes they make. Past the budget the render stops with an error.
const (
	// RenderBudget is the steps one render may take: about one per
	// template node executed, plus one per 64 bytes a function builds.
	RenderBudget = 250_000
	// ValidationBudget is the steps checking a whole score may take, every
	// voice of every stage together.
	ValidationBudget = 5_000_000
	// MaxRenderedSize bounds what one template may produce, and any one
	// string a function builds on the way.
	MaxRenderedSize = 4 << 20

	bytesPerStep = 64
	budgetFunc   = "_budget" // the function the rewrite inserts; not for score authors
)

// errRenderBudget and errValidationBudget end a render that costs too much.
var (
	errRenderBudget     = fmt.Errorf("exceeds the render budget (%d steps)", RenderBudget)
	errValidationBudget = fmt.Errorf("the score's templates exceed the validation budget (%d steps for every voice of every stage together)", ValidationBudget)
	errOutputSize       = fmt.Errorf("exceeds the output limit (%d bytes)", MaxRenderedSize)
)

// budget counts the steps of one render and, while a score is validated,
// of every render together.
type budget struct {
	steps int
	pool  *int // steps left for the whole validation; nil at run time
}

func (b *budget) spend(n int) error {
	b.steps += n
	if b.pool != nil {
		*b.pool -= n
		if *b.pool < 0 {
			return errValidationBudget
		}
	}
	if b.steps > RenderBudget {
		return errRenderBudget
	}
	return nil
}

// made pays for a string a function built.
func (b *budget) made(s string) (string, error) {
	if len(s) > MaxRenderedSize {
		return "", errOutputSize
	}
	if err := b.spend(1 + len(s)/bytesPerStep); err != nil {
		return "", err
	}
	return s, nil
}

// funcs are the template functions: pure, no I/O, nothing that could leak
// the conductor's environment. The builtins that build strings are replaced
// by versions that pay for what they build.
func funcs(b *budget) template.FuncMap {
	str := func(f func(string) string) func(string) (string, error) {
		return func(s string) (string, error) { return b.made(f(s)) }
	}
	return template.FuncMap{
		budgetFunc: func(n int) (string, error) { return "", b.spend(n) },
		"quote":    str(Quote),
		"join": func(sep string, list any) (string, error) {
			elems, err := strs(list)
			if err != nil {
				return "", err
			}
			n := len(sep) * len(elems)
			for _, e := range elems {
				n += len(e)
			}
			if n > MaxRenderedSize {
				return "", errOutputSize
			}
			return b.made(strings.Join(elems, sep))
		},
		"trim":  str(strings.TrimSpace),
		"upper": str(strings.ToUpper),
		"lower": str(strings.ToLower),
		// default "x" .Vars.name: "x" when the value is empty. (An undefined
		// var is still an error; {{index .Vars "name"}} reads one that may be absent.)
		"default": func(def, v string) string {
			if v == "" {
				return def
			}
			return v
		},
		"index": index,
		"add":   func(a, b int) int { return a + b },
		"sub":   func(a, b int) int { return a - b },
		// fmt caps widths at a million, so one call cannot build much more
		// than its arguments before it is paid for.
		"print":    func(args ...any) (string, error) { return b.made(fmt.Sprint(args...)) },
		"printf":   func(f string, args ...any) (string, error) { return b.made(fmt.Sprintf(f, args...)) },
		"println":  func(args ...any) (string, error) { return b.made(fmt.Sprintln(args...)) },
		"html":     func(args ...any) (string, error) { return b.made(template.HTMLEscaper(args...)) },
		"js":       func(args ...any) (string, error) { return b.made(template.JSEscaper(args...)) },
		"urlquery": func(args ...any) (string, error) { return b.made(template.URLQueryEscaper(args...)) },
	}
}

// bound rewrites every tree of t so that it pays for what it runs (see
// RenderBudget), and refuses templates that call themselves: score data
// holds nothing recursive, so recursion could only ever be a loop.
func bound(t *template.Template) error {
	calls := map[string][]string{}
	for _, tt := range t.Templates() {
		if tt.Tree == nil || tt.Tree.Root == nil {
			continue
		}
		root := tt.Tree.Root
		walkNodes(root, func(n parse.Node) {
			switch n := n.(type) {
			case *parse.RangeNode:
				if n.List == nil {
					n.List = &parse.ListNode{NodeType: parse.NodeList, Pos: n.Pos}
				}
				n.List.Nodes = append([]parse.Node{budgetNode(n.Pos, n.Line, countNodes(n.List))}, n.List.Nodes...)
			case *parse.TemplateNode:
				calls[tt.Name()] = append(calls[tt.Name()], n.Name)
			}
		})
		root.Nodes = append([]parse.Node{budgetNode(root.Pos, 1, countNodes(root))}, root.Nodes...)
	}
	if name := recursive(calls); name != "" {
		return fmt.Errorf("template %q calls itself, directly or not: templates may not recurse", name)
	}
	return nil
}

// budgetNode is {{_budget n}}: it prints nothing and pays n steps.
func budgetNode(pos parse.Pos, line, n int) *parse.ActionNode {
	cost := &parse.NumberNode{NodeType: parse.NodeNumber, Pos: pos, IsInt: true, Int64: int64(n), Text: fmt.Sprint(n)}
	cmd := &parse.CommandNode{NodeType: parse.NodeCommand, Pos: pos,
		Args: []parse.Node{parse.NewIdentifier(budgetFunc).SetPos(pos), cost}}
	return &parse.ActionNode{NodeType: parse.NodeAction, Pos: pos, Line: line,
		Pipe: &parse.PipeNode{NodeType: parse.NodePipe, Pos: pos, Line: line, Cmds: []*parse.CommandNode{cmd}}}
}

// countNodes is the number of nodes under n, n included: an upper bound of
// what one pass through n executes outside the loops and calls in it, which
// pay for themselves.
func countNodes(n parse.Node) int {
	c := 0
	walkNodes(n, func(parse.Node) { c++ })
	return c
}

// recursive names a template that reaches itself through template calls, or "".
func recursive(calls map[string][]string) string {
	const (
		unseen = iota
		open
		done
	)
	state := map[string]int{}
	var visit func(name string) string
	visit = func(name string) string {
		switch state[name] {
		case open:
			return name
		case done:
			return ""
		}
		state[name] = open
		for _, c := range calls[name] {
			if r := visit(c); r != "" {
				return r
			}
		}
		state[name] = done
		return ""
	}
	for name := range calls {
		if r := visit(name); r != "" {
			return r
		}
	}
	return ""
}

// walkNodes calls fn on n and every node under it, parents first.
func walkNodes(n parse.Node, fn func(parse.Node)) {
	if n == nil {
		return
	}
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		fn(n)
		for _, c := range n.Nodes {
			walkNodes(c, fn)
		}
		return
	case *parse.PipeNode:
		if n == nil {
			return
		}
		fn(n)
		for _, v := range n.Decl {
			walkNodes(v, fn)
		}
		for _, c := range n.Cmds {
			walkNodes(c, fn)
		}
		return
	}
	fn(n)
	switch n := n.(type) {
	case *parse.ActionNode:
		walkNodes(n.Pipe, fn)
	case *parse.CommandNode:
		for _, a := range n.Args {
			walkNodes(a, fn)
		}
	case *parse.IfNode:
		walkBranch(&n.BranchNode, fn)
	case *parse.RangeNode:
		walkBranch(&n.BranchNode, fn)
	case *parse.WithNode:
		walkBranch(&n.BranchNode, fn)
	case *parse.TemplateNode:
		walkNodes(n.Pipe, fn)
	case *parse.ChainNode:
		walkNodes(n.Node, fn)
	}
}

func walkBranch(b *parse.BranchNode, fn func(parse.Node)) {
	walkNodes(b.Pipe, fn)
	walkNodes(b.List, fn)
	walkNodes(b.ElseList, fn)
}

// isBudgetError reports whether err is a render that cost too much.
func isBudgetError(err error) bool {
	return errors.Is(err, errRenderBudget) || errors.Is(err, errValidationBudget) || errors.Is(err, errOutputSize)
}

// strs is the list join was given as strings: a []string, or a var's list
// (TOML arrays decode as []any) of strings.
func strs(list any) ([]string, error) {
	switch l := list.(type) {
	case []string:
		return l, nil
	case []any:
		out := make([]string, len(l))
		for i, e := range l {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("join: element %d is %s, not a string", i, tomlKind(e))
			}
			out[i] = s
		}
		return out, nil
	}
	return nil, fmt.Errorf("join needs a list of strings, not %s", tomlKind(list))
}
