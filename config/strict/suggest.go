package strict

import "strings"

// Suggest returns the candidate closest to word (Levenshtein, case-insensitive) if close enough
// (distance <= max(1, len(word)/3)), else "". Ties go to the earlier candidate, so
// callers control the preference by the order they list candidates in.
//
// Swapping two adjacent letters counts as one edit, not two (the "optimal string
// alignment" variant of Levenshtein), because "nmae" for "name" is the typo people make.
func Suggest(word string, candidates []string) string {
	w := strings.ToLower(word)
	limit := max(1, len([]rune(w))/3)
	best, bestDist := "", limit+1
	for _, c := range candidates {
		if d := levenshtein(w, strings.ToLower(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// levenshtein is the edit distance between a and b, counted in runes, where an
// adjacent transposition is one edit.
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// Three rows: the transposition looks two rows back.
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
