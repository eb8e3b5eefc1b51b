package strict

import (
	"strings"
)

// Positions records where the keys of a TOML document are, so that problems
// found after decoding (an unknown stage, a cycle) can still name a line.
// Paths are dotted keys with the index of array elements, counted from 0:
// "defaults.timeout", "stage[1]", "stage[1].validate[0].path", "stage[0].depends_on[2]".
// An element of an array of tables is located at its [[header]].
type Positions struct {
	where map[string]position
}

// Locate indexes the keys of data. It never fails: a document with a syntax
// error is indexed up to the error (Decode reports the error itself).
func Locate(data []byte) Positions {
	return Positions{where: walk(data, nil).where}
}

// Pos is where path is, or, when the document does not contain it (a key left
// to its default), where its nearest enclosing table or element is. 0, 0 when
// nothing of it is in the document.
func (p Positions) Pos(path string) (line, col int) {
	for path != "" {
		if at, ok := p.where[path]; ok {
			return at.line, at.col
		}
		path = parentPath(path)
	}
	return 0, 0
}

// Line is the line of Pos.
func (p Positions) Line(path string) int {
	line, _ := p.Pos(path)
	return line
}

// parentPath strips the last key or index: "a[1].b" -> "a[1]" -> "a" -> "".
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}
