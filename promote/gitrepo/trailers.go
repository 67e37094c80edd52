package gitrepo

import (
	"errors"
	"fmt"
	"strings"
)

// Trailer is one "Key: value" line of a commit message's trailer block.
type Trailer struct {
	Key   string
	Value string
}

// Trailer keys ferry writes and reads back.
const (
	TrailerImage  = "Ferry-Image"
	TrailerSource = "Ferry-Source"
)

// ParseTrailers returns the trailers of a commit message: the lines of its last paragraph when
// every line of that paragraph is a "Key: value" trailer (or a continuation line starting with
// whitespace, folded into the previous value). The first paragraph (the subject) is never a
// trailer block. Keys keep their spelling; compare them with strings.EqualFold.
func ParseTrailers(msg string) []Trailer {
	msg = strings.ReplaceAll(msg, "\r\n", "\n")
	paras := paragraphs(msg)
	if len(paras) < 2 {
		return nil
	}
	var out []Trailer
	for _, line := range paras[len(paras)-1] {
		if line[0] == ' ' || line[0] == '\t' {
			if len(out) == 0 {
				return nil
			}
			out[len(out)-1].Value += " " + strings.TrimSpace(line)
			continue
		}
		k, v, ok := splitTrailer(line)
		if !ok {
			return nil
		}
		out = append(out, Trailer{Key: k, Value: v})
	}
	return out
}

// paragraphs splits a message into its non-empty paragraphs, each a list of non-blank lines.
func paragraphs(msg string) [][]string {
	var paras [][]string
	var cur []string
	for _, line := range strings.Split(msg, "\n") {
		line = strings.TrimRight(line, " \t")
		if line == "" {
			if cur != nil {
				paras = append(paras, cur)
				cur = nil
			}
			continue
		}
		cur = append(cur, line)
	}
	if cur != nil {
		paras = append(paras, cur)
	}
	return paras
}

func splitTrailer(line string) (key, value string, ok bool) {
	i := strings.IndexByte(line, ':')
	if i <= 0 {
		return "", "", false
	}
	key = line[:i]
	if !validKey(key) {
		return "", "", false
	}
	return key, strings.TrimSpace(line[i+1:]), true
}

func validKey(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		if !(r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// FormatTrailers appends trailers to a commit message: to its trailer block when its last
// paragraph already is one, otherwise as a new paragraph. A key must be letters, digits and
// '-'; a value must be one line.
func FormatTrailers(msg string, trailers []Trailer) (string, error) {
	for _, t := range trailers {
		if !validKey(t.Key) {
			return "", fmt.Errorf("trailer key %q: use letters, digits and '-' only", t.Key)
		}
		if strings.ContainsAny(t.Value, "\r\n") {
			return "", fmt.Errorf("trailer %s: value %q spans lines; trailers are one line", t.Key, t.Value)
		}
	}
	msg = strings.TrimRight(msg, "\r\n \t")
	if strings.TrimSpace(msg) == "" {
		return "", errors.New("commit message is empty: trailers need a subject line before them")
	}
	if len(trailers) == 0 {
		return msg + "\n", nil
	}
	var b strings.Builder
	b.WriteString(msg)
	if len(ParseTrailers(msg)) > 0 {
		b.WriteString("\n")
	} else {
		b.WriteString("\n\n")
	}
	for _, t := range trailers {
		b.WriteString(t.Key)
		b.WriteString(": ")
		b.WriteString(strings.TrimSpace(t.Value))
		b.WriteString("\n")
	}
	return b.String(), nil
}

// TrailerValues returns the values of every trailer whose key matches (case-insensitively).
func TrailerValues(trailers []Trailer, key string) []string {
	var out []string
	for _, t := range trailers {
		if strings.EqualFold(t.Key, key) {
			out = append(out, t.Value)
		}
	}
	return out
}
