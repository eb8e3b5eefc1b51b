package score

import (
	"errors"
	"strconv"
	"strings"

	"github.com/mzt-dev/mzt/config/strict"
	"github.com/pelletier/go-toml/v2"
)

// decodeAround decodes data into raw leaving out the values the strict
// decoder refused (a string where a number goes, a number for a duration),
// so that the checks after decoding still run and one mzt validate lists
// every problem. It reports false when nothing can be decoded (the document
// does not parse).
func decodeAround(data []byte, refused strict.Problems, raw *rawScore) bool {
	var doc map[string]any
	if toml.Unmarshal(data, &doc) != nil {
		return false
	}
	for _, p := range refused {
		if p.Key != "" {
			deletePath(doc, p.Key)
		}
	}
	// go-toml names the first value it cannot decode: leave it out too, a
	// bounded number of times, in case the walk missed some.
	for range len(refused) + 8 {
		clean, err := toml.Marshal(doc)
		if err != nil {
			return false
		}
		*raw = rawScore{}
		err = toml.Unmarshal(clean, raw)
		var de *toml.DecodeError
		switch {
		case err == nil:
			return true
		case errors.As(err, &de) && len(de.Key()) > 0 && deletePath(doc, strings.Join(de.Key(), ".")):
		default:
			return false
		}
	}
	return false
}

// deletePath removes the value at a key path such as "stage[1].voices" or
// "defaults.backoff.base" from a decoded document, reporting whether it was there.
func deletePath(doc map[string]any, path string) bool {
	var cur any = doc
	parts := strings.Split(path, ".")
	for i, part := range parts {
		name, indexes := splitIndexes(part)
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if i == len(parts)-1 && len(indexes) == 0 {
			_, had := m[name]
			delete(m, name)
			return had
		}
		cur = m[name]
		for j, idx := range indexes {
			s, ok := cur.([]any)
			if !ok || idx < 0 || idx >= len(s) {
				return false
			}
			if i == len(parts)-1 && j == len(indexes)-1 {
				// An element of an array: the array goes, as a whole.
				delete(m, name)
				return true
			}
			cur = s[idx]
		}
	}
	return false
}

// splitIndexes splits "stage[1]" into "stage" and [1].
func splitIndexes(part string) (string, []int) {
	name, rest, ok := strings.Cut(part, "[")
	if !ok {
		return part, nil
	}
	var idx []int
	for _, s := range strings.Split(strings.TrimSuffix(rest, "]"), "][") {
		n, err := strconv.Atoi(s)
		if err != nil {
			return name, nil
		}
		idx = append(idx, n)
	}
	return name, idx
}
