package score

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// Identity names a score across job ids for history (insights, ETAs, cost
// estimates): its name (or file name) and a hash of its stage definitions,
// "review@3f2a9c01b7de". Two runs share history when both are equal, whatever
// their job ids; changing a stage starts a new history.
func (s *Score) Identity() string {
	name := strings.TrimSuffix(filepath.Base(s.Path), filepath.Ext(s.Path))
	var doc map[string]any
	if err := toml.Unmarshal(s.Source, &doc); err != nil {
		return name // a parsed score always decodes; keep a name regardless
	}
	if n, ok := doc["name"].(string); ok && n != "" {
		name = n
	}
	// encoding/json sorts map keys: the same stages hash the same however
	// the file orders their keys.
	stages, _ := json.Marshal(doc["stage"])
	sum := sha256.Sum256(stages)
	return name + "@" + hex.EncodeToString(sum[:6])
}

// IdentityName is the name part of an identity, for display.
func IdentityName(identity string) string {
	if i := strings.LastIndexByte(identity, '@'); i > 0 {
		return identity[:i]
	}
	return identity
}
