package sheetrun

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// maxArgLen is the longest single argument execve accepts on Linux
// (MAX_ARG_STRLEN: 32 pages, counting the terminating NUL). A longer one
// fails every try with "argument list too long".
var maxArgLen = 32*os.Getpagesize() - 1

// shells are the interpreters whose `-c SCRIPT` can be handed a file instead.
var shells = map[string]bool{"sh": true, "bash": true, "dash": true, "zsh": true, "ksh": true}

// ShortenArgv returns argv with every over-long shell script (`bash -c
// SCRIPT`) written to scriptPath and replaced by `. 'scriptPath'`, which the
// same shell reads as it would the argument: $0 and the positional
// parameters after the script are unchanged. Arguments of normal length are
// left exactly as they are. An over-long argument that is not a shell script
// is an error that says what to do instead.
func ShortenArgv(argv []string, scriptPath string) ([]string, error) {
	var out []string
	for i, a := range argv {
		if len(a) <= maxArgLen {
			continue
		}
		if i < 2 || argv[i-1] != "-c" || !shells[filepath.Base(argv[i-2])] || out != nil {
			return nil, fmt.Errorf("argument %d of %s is %d bytes, more than the %d a single argument may have: "+
				"pass the prompt on stdin or in a file (prompt_via)", i, filepath.Base(argv[0]), len(a), maxArgLen)
		}
		if err := os.MkdirAll(filepath.Dir(scriptPath), 0o755); err != nil {
			return nil, fmt.Errorf("create folder for long script: %w", err)
		}
		if err := os.WriteFile(scriptPath, []byte(a), 0o600); err != nil {
			return nil, fmt.Errorf("write long script: %w", err)
		}
		out = append([]string(nil), argv...)
		out[i] = ". " + shellQuote(scriptPath)
	}
	if out == nil {
		return argv, nil
	}
	return out, nil
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
