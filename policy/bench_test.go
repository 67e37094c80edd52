package policy_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ferryhq/ferry/policy"
)

func BenchmarkRank(b *testing.B) {
	tags := semverTags(5000)
	created := make(map[string]time.Time, len(tags))
	numeric := make([]string, len(tags))
	for i, tag := range tags {
		created[tag] = t0.Add(time.Duration(i*7919%5000) * time.Second)
		numeric[i] = fmt.Sprintf("%d", 1730000000+i*7919%5000)
	}
	benches := []struct {
		name string
		spec policy.Spec
		tags []string
	}{
		{"semver", policy.Spec{Semver: ">=3.0.0 <7.0.0"}, tags},
		{"semver-allow-ignore", policy.Spec{Semver: ">=3.0.0 <7.0.0", Allow: `^v?(?P<version>\d+\.\d+\.\d+.*)$`, Ignore: []string{"*-debug", "latest"}}, tags},
		{"numerical", policy.Spec{Numerical: "asc"}, numeric},
		{"alphabetical", policy.Spec{Alphabetical: "asc"}, tags},
		{"newest-build", policy.Spec{NewestBuild: true}, tags},
	}
	for _, bc := range benches {
		b.Run(fmt.Sprintf("%s-%d", bc.name, len(bc.tags)), func(b *testing.B) {
			p := mustNew(b, bc.spec)
			b.ReportAllocs()
			for b.Loop() {
				p.Rank(bc.tags, created)
			}
		})
	}
}
