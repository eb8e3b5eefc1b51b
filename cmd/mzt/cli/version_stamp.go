package cli

import (
	"debug/buildinfo"
	"runtime/debug"
	"strings"
)

// versionVar is the variable a release build stamps with -ldflags -X.
const versionVar = "github.com/mzt-dev/mzt/cmd/mzt/cli.Version"

// readVersionStamp learns the version of the conductor binary at path from
// its build information, without running it (running it cost two thirds of
// `mzt version`). ok is false when the build information does not settle
// it; the caller then asks the binary.
func readVersionStamp(path string) (version string, ok bool) {
	theirs, err := buildinfo.ReadFile(path)
	if err != nil {
		return "", false // not a Go binary (a wrapper script, say)
	}
	ours, _ := debug.ReadBuildInfo()
	return versionFromBuildInfo(theirs, ours)
}

// versionFromBuildInfo is the version a binary built as theirs reports, as
// far as its build information tells, next to this binary (ours):
//   - a build of another module: unknown;
//   - stamped with -X ...cli.Version=V: V;
//   - not stamped: the source's default version, which is known only when
//     this binary is an unstamped build of the same source too (same
//     module, same VCS revision and state, same Go version): this one's.
func versionFromBuildInfo(theirs, ours *debug.BuildInfo) (string, bool) {
	if theirs == nil || ours == nil || theirs.Main.Path != ours.Main.Path {
		return "", false
	}
	v, stamped, ok := ldflagsVersion(setting(theirs, "-ldflags"))
	switch {
	case !ok:
		return "", false
	case stamped:
		return v, true
	}
	if _, oursStamped, ok := ldflagsVersion(setting(ours, "-ldflags")); !ok || oursStamped {
		return "", false
	}
	for _, key := range []string{"vcs.revision", "vcs.modified", "vcs.time"} {
		if setting(theirs, key) != setting(ours, key) {
			return "", false
		}
	}
	if theirs.GoVersion != ours.GoVersion || theirs.Main.Version != ours.Main.Version {
		return "", false
	}
	return defaultVersion, true
}

func setting(info *debug.BuildInfo, key string) string {
	for _, s := range info.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}

// ldflagsVersion finds -X ...cli.Version=V in linker flags. ok is false
// when the flags are quoted in a way this does not read: then the stamp
// is unknown rather than guessed.
func ldflagsVersion(flags string) (version string, stamped, ok bool) {
	if strings.ContainsAny(flags, `'"\`) {
		return "", false, false
	}
	fields := strings.Fields(flags)
	for i := 0; i < len(fields); i++ {
		var def string
		switch f := fields[i]; {
		case f == "-X" || f == "--X":
			if i+1 == len(fields) {
				return "", false, false
			}
			i++
			def = fields[i]
		case strings.HasPrefix(f, "-X="):
			def = strings.TrimPrefix(f, "-X=")
		case strings.HasPrefix(f, "--X="):
			def = strings.TrimPrefix(f, "--X=")
		default:
			continue
		}
		if name, value, found := strings.Cut(def, "="); found && name == versionVar {
			version, stamped = value, true // the last -X of a name wins, as in the linker
		}
	}
	if stamped && (version == "" || len(version) > 100) {
		return "", false, false
	}
	return version, stamped, true
}
