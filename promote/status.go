package promote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ferryhq/ferry/internal/mdtable"
	"github.com/ferryhq/ferry/policy"
	"github.com/ferryhq/ferry/registry"
)

// StatusReport is the environments × images matrix.
type StatusReport struct {
	Environments []EnvironmentStatus `json:"environments"`
}

// EnvironmentStatus is what one environment runs.
type EnvironmentStatus struct {
	Name   string        `json:"name"`
	Images []ImageStatus `json:"images"`
}

// ImageStatus is one image in one environment.
type ImageStatus struct {
	Image    string `json:"image"`
	Tag      string `json:"tag"`
	Digest   string `json:"digest"`
	Verified bool   `json:"verified"`
	// Pinned is false when the manifests name the image by tag only (pin: tag).
	Pinned bool `json:"pinned"`
	// Behind counts the versions the image's policy allows that are newer than Tag; -1 when the
	// registry could not be asked.
	Behind int `json:"behind"`
	// Held is true when a rollback holds versions out of the environment (watch, bump and
	// promote will not bring back HeldFrom, nor a version not newer than it).
	Held     bool   `json:"held"`
	HeldFrom string `json:"heldFrom,omitempty"`
	// Note explains an unverified or unknown state.
	Note string `json:"note,omitempty"`
}

// Status reports, for every environment and image, the tag and digest it runs, whether that
// digest verifies, and how many newer versions the policy allows. Tags are listed once per
// image, whatever the number of environments.
func Status(ctx context.Context, opts Options) (*StatusReport, error) {
	r, err := open(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer r.close()

	rankings := map[string]*policy.Ranking{}
	rank := func(imgName string) (*policy.Ranking, error) {
		if rk, ok := rankings[imgName]; ok {
			return rk, nil
		}
		img := r.cfg.Image(imgName)
		p, err := r.policyFor(img)
		if err != nil {
			return nil, err
		}
		rk, err := r.reg.Rank(ctx, img.Repository, p)
		if err != nil {
			rankings[imgName] = nil
			return nil, err
		}
		rankings[imgName] = rk
		return rk, nil
	}

	rep := &StatusReport{}
	for i := range r.cfg.Environments {
		env := &r.cfg.Environments[i]
		cur, err := r.current(r.tip, env)
		if err != nil {
			return nil, err
		}
		es := EnvironmentStatus{Name: env.Name}
		for _, imgName := range sortedKeys(cur) {
			ref := cur[imgName]
			img := r.cfg.Image(imgName)
			st := ImageStatus{Image: imgName, Tag: ref.Tag, Digest: ref.Digest, Pinned: ref.Digest != "", Behind: -1}
			digest := ref.Digest
			if digest == "" && ref.Tag != "" {
				if d, err := r.reg.Digest(ctx, img.Repository+":"+ref.Tag); err == nil {
					digest = d
					st.Note = "not pinned by digest; the tag resolves to " + short(d) + " now"
				} else {
					st.Note = "not pinned by digest, and the tag could not be resolved: " + err.Error()
				}
			}
			if digest != "" {
				v, err := r.verify(ctx, img, img.Repository, digest)
				switch {
				case err != nil:
					reason, detail := refusalReason(err)
					st.Note = joinNote(st.Note, reason+": "+detail)
				case v == nil:
					st.Note = joinNote(st.Note, "verification is off (insecureSkipVerify)")
				default:
					st.Verified = true
				}
			}
			if h, err := r.holdFor(ctx, env, img, ref); err != nil {
				return nil, err
			} else if h != nil {
				st.Held, st.HeldFrom = true, h.from
				st.Note = joinNote(st.Note, "held: rolled back from "+shortRef(h.from))
			}
			if rk, err := rank(imgName); err == nil && rk != nil {
				st.Behind = policy.Behind(ref.Tag, *rk)
			} else if err != nil && !errors.Is(err, registry.ErrNothingQualifies) {
				st.Note = joinNote(st.Note, "tags: "+err.Error())
			}
			es.Images = append(es.Images, st)
		}
		rep.Environments = append(rep.Environments, es)
	}
	return rep, nil
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// Write prints the matrix as aligned text, or as a Markdown table.
func (s *StatusReport) Write(w io.Writer, markdown bool) error {
	var b strings.Builder
	t := mdtable.Table{Header: []string{"environment", "image", "tag", "digest", "verified", "behind", "held"}}
	for _, e := range s.Environments {
		for _, im := range e.Images {
			behind := fmt.Sprint(im.Behind)
			if im.Behind < 0 {
				behind = "?"
			}
			ver := "yes"
			if !im.Verified {
				ver = "no"
			}
			if markdown {
				held := ""
				if im.Held {
					held = "rolled back from " + mdtable.Code(shortRef(im.HeldFrom))
				}
				t.Rows = append(t.Rows, []string{e.Name, im.Image, im.Tag, "`" + short(im.Digest) + "`", ver, behind, held})
				continue
			}
			fmt.Fprintf(&b, "%-12s %-16s %-16s %-20s verified=%-3s behind=%s", e.Name, im.Image, im.Tag, short(im.Digest), ver, behind)
			if im.Note != "" {
				b.WriteString("  (" + im.Note + ")")
			}
			b.WriteString("\n")
		}
	}
	if markdown {
		b.WriteString(t.String())
	}
	_, err := io.WriteString(w, b.String())
	return err
}
