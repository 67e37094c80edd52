package forge

import (
	"strings"

	"github.com/ferryhq/ferry/internal/mdtable"
)

// BodyRow is one image in a promotion's pull request body.
type BodyRow struct {
	// Image is the image's name in ferry.yaml.
	Image string
	// From and To are the references before and after (To is what is written).
	From, To string
	// Digest is the digest that verified.
	Digest string
	// Signer is the verified signer identity (a key name, or a keyless certificate's identity).
	// Empty reads "not verified".
	Signer string
	// SourceCommit is the source environment's commit and SourceCommitURL its web page; both
	// may be empty (an image from the registry has no source commit).
	SourceCommit, SourceCommitURL string
}

// Body is the default pull request body: a Markdown table of image, from, to, digest, signer
// and source commit. Cell text is escaped so that a value cannot break the table.
func Body(rows []BodyRow) string {
	t := mdtable.Table{Header: []string{"image", "from", "to", "digest", "signer", "source commit"}}
	for _, r := range rows {
		signer := code(r.Signer)
		if r.Signer == "" {
			signer = "not verified"
		}
		t.Rows = append(t.Rows, []string{
			r.Image, code(r.From), code(r.To), code(r.Digest), signer, commitLink(r.SourceCommit, r.SourceCommitURL),
		})
	}
	return t.String()
}

// code renders s as inline code inside a cell, or "—" when empty.
func code(s string) string {
	if c := mdtable.Code(s); c != "" {
		return c
	}
	return "—"
}

func commitLink(sha, link string) string {
	short := sha
	if len(short) > 12 {
		short = short[:12]
	}
	switch {
	case sha == "" && link == "":
		return "—"
	case link == "":
		return code(short)
	case short == "":
		return "[commit](" + linkTarget(link) + ")"
	default:
		return "[" + code(short) + "](" + linkTarget(link) + ")"
	}
}

// linkTarget keeps a URL from closing the link or the cell early.
func linkTarget(u string) string {
	r := strings.NewReplacer(" ", "%20", "(", "%28", ")", "%29", "|", "%7C", "\n", "", "\r", "", "<", "%3C", ">", "%3E")
	return r.Replace(u)
}
