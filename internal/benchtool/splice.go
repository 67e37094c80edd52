package main

import (
	"fmt"
	"os"
	"regexp"
	"strings"
)

// Generated sections of docs/benchmarks.md sit between a pair of markers:
//
//	<!-- bench:NAME -->
//	…generated…
//	<!-- /bench:NAME -->
//
// splice replaces what is between them and leaves everything else (the hand-written intro,
// sections other tools write) byte for byte. A section with no markers yet is appended.
func splice(doc, name, body string) (string, error) {
	if !sectionName.MatchString(name) {
		return "", fmt.Errorf("section name %q: want letters, digits and dashes", name)
	}
	open, end := "<!-- bench:"+name+" -->", "<!-- /bench:"+name+" -->"
	body = strings.TrimRight(body, "\n") + "\n"
	i := strings.Index(doc, open)
	j := strings.Index(doc, end)
	switch {
	case i < 0 && j < 0:
		if doc != "" && !strings.HasSuffix(doc, "\n") {
			doc += "\n"
		}
		if doc != "" {
			doc += "\n"
		}
		return doc + open + "\n" + body + end + "\n", nil
	case i < 0 || j < 0 || j < i:
		return "", fmt.Errorf("section %s: markers %q and %q must both appear, in that order", name, open, end)
	case strings.Count(doc, open) > 1 || strings.Count(doc, end) > 1:
		return "", fmt.Errorf("section %s: markers appear more than once", name)
	}
	return doc[:i+len(open)] + "\n" + body + doc[j:], nil
}

var sectionName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// spliceFiles writes each NAME=FILE section into the document at path, all or nothing.
func spliceFiles(path string, sections []string) error {
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	doc := string(b)
	for _, s := range sections {
		name, file, ok := strings.Cut(s, "=")
		if !ok {
			return fmt.Errorf("%q: want NAME=FILE", s)
		}
		body, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("section %s: %w", name, err)
		}
		if doc, err = splice(doc, name, string(body)); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(doc), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
