package strict

import (
	"bytes"
	"sort"
)

// lineIndex turns byte offsets into line and column in O(log lines), so that
// locating every key of a document costs one pass over it, not one per key.
type lineIndex struct {
	starts []int // offset of the first byte of each line; starts[0] = 0
}

func newLineIndex(data []byte) lineIndex {
	starts := make([]int, 1, bytes.Count(data, []byte{'\n'})+1)
	for i, b := range data {
		if b == '\n' {
			starts = append(starts, i+1)
		}
	}
	return lineIndex{starts: starts}
}

// at is the 1-based line and byte column of offset, as go-toml counts them.
func (l lineIndex) at(offset int) position {
	i := sort.Search(len(l.starts), func(i int) bool { return l.starts[i] > offset }) - 1
	if i < 0 {
		i = 0
	}
	return position{line: i + 1, col: offset - l.starts[i] + 1}
}
