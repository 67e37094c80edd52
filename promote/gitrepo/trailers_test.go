package gitrepo

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseTrailers(t *testing.T) {
	tests := []struct {
		name string
		msg  string
		want []Trailer
	}{
		{"none", "dev: api 1.0 -> 1.1\n", nil},
		{"subject only looks like a trailer", "Ferry-Image: x\n", nil},
		{"block", "dev: bump\n\nbody text\n\nFerry-Image: api=ghcr.io/acme/api:1.4.2@sha256:abc\nFerry-Source: registry\n",
			[]Trailer{{"Ferry-Image", "api=ghcr.io/acme/api:1.4.2@sha256:abc"}, {"Ferry-Source", "registry"}}},
		{"continuation", "s\n\nKey: a\n  b\n", []Trailer{{"Key", "a b"}}},
		{"crlf", "s\r\n\r\nKey: v\r\n", []Trailer{{"Key", "v"}}},
		{"last paragraph not all trailers", "s\n\nKey: v\nnot a trailer\n", nil},
		{"key with space", "s\n\nBad Key: v\n", nil},
		{"trailing blank lines", "s\n\nKey: v\n\n\n", []Trailer{{"Key", "v"}}},
		{"empty value", "s\n\nKey:\n", []Trailer{{"Key", ""}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, ParseTrailers(tc.msg)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestFormatTrailers(t *testing.T) {
	img := []Trailer{{TrailerImage, "api=ghcr.io/acme/api:1.4.2@sha256:abc"}, {TrailerSource, "staging"}}
	tests := []struct {
		name, msg string
		tr        []Trailer
		want      string
		err       string
	}{
		{"new block", "prod: api 1.4.1 -> 1.4.2", img,
			"prod: api 1.4.1 -> 1.4.2\n\nFerry-Image: api=ghcr.io/acme/api:1.4.2@sha256:abc\nFerry-Source: staging\n", ""},
		{"joins existing block", "s\n\nSigned-off-by: a <a@b>\n", img[:1],
			"s\n\nSigned-off-by: a <a@b>\nFerry-Image: api=ghcr.io/acme/api:1.4.2@sha256:abc\n", ""},
		{"none", "s\n\n", nil, "s\n", ""},
		{"bad key", "s", []Trailer{{"Bad Key", "v"}}, "", "letters, digits"},
		{"multi-line value", "s", []Trailer{{"K", "a\nb"}}, "", "one line"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FormatTrailers(tc.msg, tc.tr)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(append(ParseTrailers(tc.msg), tc.tr...), ParseTrailers(got)); len(tc.tr) > 0 && diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzTrailers(f *testing.F) {
	f.Add("s\n\nFerry-Image: api=x@sha256:1\n", "Ferry-Source", "dev")
	f.Add("a", "K", "")
	f.Add("s\n\nK: a\n b\n", "X-Y", "v w")
	f.Fuzz(func(t *testing.T, msg, key, value string) {
		before := ParseTrailers(msg)
		out, err := FormatTrailers(msg, []Trailer{{key, value}})
		if err != nil {
			return
		}
		got := ParseTrailers(out)
		if len(got) == 0 {
			t.Fatalf("formatted message %q has no trailers", out)
		}
		last := got[len(got)-1]
		if last.Key != key || last.Value != strings.TrimSpace(value) {
			t.Fatalf("last trailer %+v, want %s: %s", last, key, value)
		}
		if len(before) > 0 && len(got) != len(before)+1 {
			t.Fatalf("existing trailers %v became %v", before, got)
		}
	})
}
