package config

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/Masterminds/semver/v3"
	"github.com/ferryhq/ferry/registry"
	"github.com/google/go-containerregistry/pkg/name"
)

// validator checks a decoded Config. It reports at the line of the key it names, and stays
// quiet about a key that already has a decoding error.
type validator struct {
	*decoder
	cfg *Config
}

// fail records an error at path, at the line of path (or its nearest present ancestor).
func (v *validator) fail(path, format string, args ...any) {
	if v.isBad(path) {
		return
	}
	v.errs = append(v.errs, &Error{File: v.file, Line: v.line(path), Path: path, Msg: fmt.Sprintf(format, args...)})
}

// failErr records an error at path carrying err.
func (v *validator) failErr(path string, err error, format string, args ...any) {
	if v.isBad(path) {
		return
	}
	msg := fmt.Sprintf(format, args...) + ": " + err.Error()
	v.errs = append(v.errs, &Error{File: v.file, Line: v.line(path), Path: path, Msg: msg, Err: err})
}

// required reports a missing (or empty) key; true when the value is there.
func (v *validator) required(path, value, what string) bool {
	if value != "" {
		return true
	}
	if v.has(path) {
		v.fail(path, "empty; %s", what)
	} else {
		v.fail(path, "missing; %s", what)
	}
	return false
}

func (v *validator) validate() {
	v.images()
	v.registries()
	v.environments()
	v.git()
	v.notify()
}

// notify checks the notify entries: the URL is a secret, so only env://VAR is accepted.
func (v *validator) notify() {
	for i := range v.cfg.Notify {
		n := &v.cfg.Notify[i]
		p := fmt.Sprintf("notify[%d]", i)
		if v.required(p+".url", n.URL, "set env://VAR, the variable holding the webhook URL") {
			if _, ok := EnvVar(n.URL); !ok {
				v.fail(p+".url", "want env://VAR naming the variable that holds the webhook URL (the URL is a secret: keep it out of ferry.yaml)")
			}
		}
		switch n.Format {
		case "", FormatSlack, FormatJSON:
		default:
			v.fail(p+".format", "%q is not a format; want slack or json", n.Format)
		}
		seen := map[NotifyEvent]bool{}
		for j, e := range n.On {
			q := fmt.Sprintf("%s.on[%d]", p, j)
			switch {
			case !slices.Contains(NotifyEvents, e):
				v.fail(q, "%q is not an event; want commit, pull-request, refused or rollback", e)
			case seen[e]:
				v.fail(q, "%q listed twice", e)
			}
			seen[e] = true
		}
	}
}

var validTag = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[\w][\w.-]{0,127}$`) })

func (v *validator) images() {
	names := map[string]string{} // name → path
	repos := map[string]string{}
	markers := map[string]string{}
	for i := range v.cfg.Images {
		img := &v.cfg.Images[i]
		p := fmt.Sprintf("images[%d]", i)
		if v.required(p+".name", img.Name, "give the image a name, used in markers, messages and branches") {
			if err := checkComponent(img.Name); err != nil {
				v.fail(p+".name", "%q cannot be used in a branch name (ferry/<env>/<image>): %v", img.Name, err)
			} else if first, dup := names[img.Name]; dup {
				v.fail(p+".name", "duplicate image name %q (first at line %d)", img.Name, v.line(first))
			} else {
				names[img.Name] = p + ".name"
			}
		}
		if v.required(p+".repository", img.Repository, "set the image repository, e.g. ghcr.io/acme/api") {
			if repo, err := name.NewRepository(img.Repository); err != nil {
				hint := ""
				if last := img.Repository[strings.LastIndex(img.Repository, "/")+1:]; strings.ContainsAny(last, ":@") {
					hint = "; write the repository without a tag or digest"
				}
				v.failErr(p+".repository", err, "%q is not an image repository%s", img.Repository, hint)
			} else if first, dup := repos[repo.Name()]; dup {
				v.fail(p+".repository", "repository %s is already named by the image at line %d; one image per repository", repo.Name(), v.line(first))
			} else {
				repos[repo.Name()] = p + ".repository"
			}
		}
		v.policy(p+".policy", &img.Policy)
		v.tags(p+".tags", &img.Tags)
		seen := map[string]bool{}
		for j, pl := range img.Platforms {
			pp := fmt.Sprintf("%s.platforms[%d]", p, j)
			if err := checkPlatform(pl); err != nil {
				v.fail(pp, "%q is not a platform: %v; write os/arch or os/arch/variant, e.g. linux/arm64/v8", pl, err)
			} else if seen[pl] {
				v.fail(pp, "duplicate platform %q", pl)
			}
			seen[pl] = true
		}
		for j := range img.Verify {
			v.verifyEntry(fmt.Sprintf("%s.verify[%d]", p, j), &img.Verify[j])
		}
		switch {
		case len(img.Verify) == 0 && !img.InsecureSkipVerify:
			at := p
			if v.has(p + ".verify") {
				at = p + ".verify"
			}
			v.fail(at, "no verify entries: add a key or keyless entry, or set insecureSkipVerify: true to accept unverified images")
		case len(img.Verify) > 0 && img.InsecureSkipVerify:
			v.fail(p+".insecureSkipVerify", "true while verify entries are listed; remove one or the other")
		}
		switch img.Pin {
		case "", PinTagDigest, PinDigest, PinTag:
		default:
			v.fail(p+".pin", "%q is not a pin; want tag+digest, digest or tag", img.Pin)
		}
		for j, m := range img.Markers {
			mp := fmt.Sprintf("%s.markers[%d]", p, j)
			if m == "" || strings.ContainsAny(m, " \t\n\"'{}") {
				v.fail(mp, "%q is not a marker name; write a Flux image policy name like flux-system:api", m)
			} else if first, dup := markers[m]; dup {
				v.fail(mp, "marker %q is already used at line %d; a marker names one image", m, v.line(first))
			} else {
				markers[m] = mp
			}
		}
		for j := range img.Fields {
			v.field(fmt.Sprintf("%s.fields[%d]", p, j), &img.Fields[j])
		}
	}
}

var policyKinds = []PolicyKind{PolicySemver, PolicyNumerical, PolicyAlphabetical, PolicyNewestBuild, PolicyDigest}

func (v *validator) policy(p string, pol *Policy) {
	if !v.has(p) {
		v.fail(p, "missing; set exactly one of semver, numerical, alphabetical, newestBuild or digest")
		return
	}
	var kinds []string
	for _, k := range policyKinds {
		if v.has(p + "." + string(k)) {
			kinds = append(kinds, string(k))
		}
	}
	switch len(kinds) {
	case 0:
		v.fail(p, "no policy kind; set exactly one of semver, numerical, alphabetical, newestBuild or digest")
		return
	case 1:
	default:
		v.fail(p, "%s policy kinds (%s); choose one", countWord(len(kinds)), andList(kinds))
		return
	}
	switch PolicyKind(kinds[0]) {
	case PolicySemver:
		if v.required(p+".semver", pol.Semver, `write a constraint like ">=1.2.0 <2.0.0"`) {
			if _, err := semver.NewConstraint(pol.Semver); err != nil {
				v.failErr(p+".semver", err, "%q is not a semver constraint", pol.Semver)
			}
		}
	case PolicyNumerical:
		v.order(p+".numerical", pol.Numerical)
	case PolicyAlphabetical:
		v.order(p+".alphabetical", pol.Alphabetical)
	case PolicyDigest:
		if v.required(p+".digest", pol.Digest, "name the mutable tag to follow, e.g. latest") && !validTag().MatchString(pol.Digest) {
			v.fail(p+".digest", "%q is not a tag; name the mutable tag to follow, e.g. latest", pol.Digest)
		}
	}
	if pol.Prerelease && kinds[0] != string(PolicySemver) {
		v.fail(p+".prerelease", "applies to semver policies only")
	}
}

func (v *validator) order(p string, o Order) {
	if o != Asc && o != Desc {
		v.fail(p, "%q is not an order; want asc or desc", o)
	}
}

func (v *validator) tags(p string, t *Tags) {
	if t.Allow != "" {
		if _, err := regexp.Compile(t.Allow); err != nil {
			v.failErr(p+".allow", err, "not a valid regular expression")
		}
	} else if v.has(p + ".allow") {
		v.fail(p+".allow", "empty; remove it to allow every tag")
	}
	for i, g := range t.Ignore {
		ip := fmt.Sprintf("%s.ignore[%d]", p, i)
		if g == "" {
			v.fail(ip, "empty pattern")
		} else if _, err := path.Match(g, ""); err != nil {
			v.failErr(ip, err, "%q is not a valid glob", g)
		}
	}
}

func (v *validator) verifyEntry(p string, e *VerifyEntry) {
	for i := range e.Attestations {
		v.attestation(fmt.Sprintf("%s.attestations[%d]", p, i), &e.Attestations[i])
	}
	hasKey, hasKeyless := v.has(p+".key"), v.has(p+".keyless")
	switch {
	case hasKey && hasKeyless:
		v.fail(p, "both key and keyless; an entry is one or the other (list two entries to accept either)")
		return
	case !hasKey && !hasKeyless:
		v.fail(p, "neither key nor keyless; set one")
		return
	}
	if hasKey {
		if v.required(p+".key", e.Key, "set a public key path in the repo or env://VAR") {
			v.ref(p+".key", e.Key)
		}
		return
	}
	if e.RequireTlog {
		v.fail(p+".requireTlog", "applies to key entries; keyless entries require the log unless keyless.insecureIgnoreTlog is true")
	}
	k := e.Keyless
	if k == nil { // keyless: null
		k = &Keyless{}
	}
	kp := p + ".keyless"
	v.either(kp, "issuer", k.Issuer, "issuerRegexp", k.IssuerRegexp, "the OIDC issuer, e.g. https://token.actions.githubusercontent.com")
	v.either(kp, "identity", k.Identity, "identityRegexp", k.IdentityRegexp, "the certificate identity, e.g. ^https://github.com/acme/api/")
	if v.has(kp + ".trustedRoot") {
		v.repoPath(kp+".trustedRoot", k.TrustedRoot, "trusted root")
	}
}

// attestation checks one required attestation: a known predicate type, dotted paths, regexps
// that compile, and limits only where they mean something.
func (v *validator) attestation(p string, a *Attestation) {
	uri := ""
	if v.required(p+".predicateType", a.PredicateType, "a URI such as https://slsa.dev/provenance/v1, or slsaprovenance1, vuln, …") {
		var err error
		if uri, err = registry.PredicateTypeURI(a.PredicateType); err != nil {
			v.fail(p+".predicateType", "%v", err)
		}
	}
	for _, m := range a.Match {
		mp := p + ".match." + m.Path
		if strings.Contains(m.Path, "..") || strings.HasPrefix(m.Path, ".") || strings.HasSuffix(m.Path, ".") || strings.TrimSpace(m.Path) != m.Path {
			v.fail(mp, "%q is not a dotted path into the predicate like buildDefinition.externalParameters.workflow.ref", m.Path)
		}
		if re, ok := registry.IsRegexpMatch(m.Want); ok {
			if _, err := regexp.Compile(re); err != nil {
				v.failErr(mp, err, "%q is not a valid regular expression", m.Want)
			}
		}
	}
	if a.MaxSeverity != "" {
		if _, err := registry.SeverityRank(a.MaxSeverity); err != nil {
			v.fail(p+".maxSeverity", "%v", err)
		}
	}
	if a.MaxAge < 0 {
		v.fail(p+".maxAge", "negative; write how old a scan may be, like 168h")
	}
	if uri != "" && uri != registry.PredicateVuln {
		for _, k := range []string{"maxSeverity", "maxAge"} {
			if v.has(p + "." + k) {
				v.fail(p+"."+k, "applies to vulnerability attestations (vuln, %s), not %s", registry.PredicateVuln, uri)
			}
		}
	}
}

// either checks that exactly one of a value and its regexp form is set, and that the regexp
// compiles.
func (v *validator) either(p, key, val, reKey, re, what string) {
	hasVal, hasRe := v.has(p+"."+key), v.has(p+"."+reKey)
	switch {
	case hasVal && hasRe:
		v.fail(p, "both %s and %s; set one", key, reKey)
	case !hasVal && !hasRe:
		v.fail(p, "neither %s nor %s; set one to %s", key, reKey, what)
	case hasVal:
		v.required(p+"."+key, val, "set "+what)
	case hasRe:
		if v.required(p+"."+reKey, re, "set "+what) {
			if _, err := regexp.Compile(re); err != nil {
				v.failErr(p+"."+reKey, err, "not a valid regular expression")
			}
		}
	}
}

func (v *validator) field(p string, f *Field) {
	if v.required(p+".path", f.Path, "write a dotted path like app.image.tag") {
		for _, seg := range strings.Split(f.Path, ".") {
			if seg == "" || strings.TrimSpace(seg) != seg {
				v.fail(p+".path", "%q is not a dotted path of keys like app.image.tag", f.Path)
				break
			}
		}
	}
	switch f.Part {
	case "", PartRef, PartName, PartTag, PartDigest:
	default:
		v.fail(p+".part", "%q is not a part; want ref, name, tag or digest", f.Part)
	}
	if f.Files != "" {
		if _, err := path.Match(f.Files, ""); err != nil {
			v.failErr(p+".files", err, "%q is not a valid glob", f.Files)
		}
	} else if v.has(p + ".files") {
		v.fail(p+".files", "empty; remove it to look in every YAML file")
	}
}

var envVarName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (v *validator) registries() {
	hosts := map[string]string{}
	for i := range v.cfg.Registries {
		r := &v.cfg.Registries[i]
		p := fmt.Sprintf("registries[%d]", i)
		if v.required(p+".host", r.Host, "set the registry host, e.g. registry.internal:5000") {
			if strings.Contains(r.Host, "://") {
				v.fail(p+".host", "%q: write the host without a scheme (insecure: true allows plain HTTP)", r.Host)
			} else if reg, err := name.NewRegistry(r.Host, name.StrictValidation); err != nil || strings.Contains(r.Host, "/") {
				v.fail(p+".host", "%q is not a registry host; write host or host:port", r.Host)
			} else if first, dup := hosts[reg.RegistryStr()]; dup {
				v.fail(p+".host", "duplicate registry %s (first at line %d)", r.Host, v.line(first))
			} else {
				hosts[reg.RegistryStr()] = p + ".host"
			}
		}
		if r.TokenEnv != "" && !envVarName.MatchString(r.TokenEnv) {
			v.fail(p+".tokenEnv", "%q is not an environment variable name (write the name alone, without env:// or $)", r.TokenEnv)
		}
		if r.RequestsPerSecond < 0 {
			v.fail(p+".requestsPerSecond", "%g is negative; leave it out (or 0) for no limit", r.RequestsPerSecond)
		}
	}
}

func (v *validator) environments() {
	envs := v.cfg.Environments
	names := map[string]int{} // name → index
	pathOK := make([]bool, len(envs))
	for i := range envs {
		e := &envs[i]
		p := fmt.Sprintf("environments[%d]", i)
		if v.required(p+".name", e.Name, "give the environment a name") {
			switch {
			case e.Name == SourceRegistry:
				v.fail(p+".name", `"registry" is reserved for source: registry; choose another name`)
			case checkComponent(e.Name) != nil:
				v.fail(p+".name", "%q cannot be used in a branch name (ferry/<env>/…): %v", e.Name, checkComponent(e.Name))
			default:
				if first, dup := names[e.Name]; dup {
					v.fail(p+".name", "duplicate environment name %q (first at line %d)", e.Name, envs[first].Line)
				} else {
					names[e.Name] = i
				}
			}
		}
		if v.repoPath(p+".path", e.Path, "environment path") {
			e.Path = path.Clean(e.Path)
			pathOK[i] = true
		}
		switch e.Write {
		case WriteCommit, WritePullRequest:
		case "":
			v.required(p+".write", "", "set commit or pull-request")
		default:
			v.fail(p+".write", "%q is not a write mode; want commit or pull-request", e.Write)
		}
		if v.has(p+".gates.soak") && e.Gates.Soak <= 0 {
			v.fail(p+".gates.soak", "%s is not a positive duration; write it like 24h", e.Gates.Soak)
		}
		if v.has(p+".pullRequest") && e.Write != WritePullRequest && e.Write != "" {
			v.fail(p+".pullRequest", "set on an environment with write: %s; it applies to write: pull-request only", e.Write)
		}
		v.pullRequest(p+".pullRequest", &e.PullRequest)
	}
	// Sources, after every name is known.
	for i := range envs {
		e := &envs[i]
		p := fmt.Sprintf("environments[%d]", i)
		if !v.required(p+".source", e.Source, `set registry or the name of another environment`) {
			continue
		}
		switch _, ok := names[e.Source]; {
		case e.Source == SourceRegistry:
			if v.has(p + ".gates.soak") {
				v.fail(p+".gates.soak", "set on an environment fed from the registry; soak counts time in a source environment, so it needs source: <environment>")
			}
		case e.Source == e.Name:
			v.fail(p+".source", "%q names the environment itself", e.Source)
		case !ok:
			v.fail(p+".source", "%q names no environment; want registry or one of %s", e.Source, v.envNames())
		}
	}
	v.cycles(names)
	v.overlaps(pathOK)
}

func (v *validator) envNames() string {
	var ns []string
	for _, e := range v.cfg.Environments {
		if e.Name != "" {
			ns = append(ns, e.Name)
		}
	}
	if len(ns) == 0 {
		return "(none defined)"
	}
	return strings.Join(ns, ", ")
}

// cycles reports each cycle of sources once, at the cycle's first environment in the file.
func (v *validator) cycles(names map[string]int) {
	envs := v.cfg.Environments
	const (
		unvisited = iota
		walking
		done
	)
	state := make([]int, len(envs))
	for start := range envs {
		var stack []int
		i := start
		for {
			if state[i] == done {
				break
			}
			if state[i] == walking {
				// The cycle is the part of the stack from i.
				k := 0
				for stack[k] != i {
					k++
				}
				cyc := stack[k:]
				first := cyc[0]
				for _, c := range cyc {
					first = min(first, c)
				}
				// Rotate so the message starts at the first environment in the file.
				var parts []string
				for j := range cyc {
					if cyc[j] == first {
						for n := 0; n < len(cyc); n++ {
							parts = append(parts, envs[cyc[(j+n)%len(cyc)]].Name)
						}
						break
					}
				}
				parts = append(parts, envs[first].Name)
				if len(cyc) > 1 { // a self-reference is reported with the source check
					v.fail(fmt.Sprintf("environments[%d].source", first), "sources form a cycle: %s; one environment in it must have source: registry", strings.Join(parts, " -> "))
				}
				break
			}
			state[i] = walking
			stack = append(stack, i)
			next, ok := names[envs[i].Source]
			if !ok {
				break
			}
			i = next
		}
		for _, s := range stack {
			state[s] = done
		}
	}
}

// overlaps reports an environment path equal to an earlier one's, or inside another's.
func (v *validator) overlaps(ok []bool) {
	envs := v.cfg.Environments
	first := map[string]int{} // path → first environment with it
	for i := range envs {
		if !ok[i] {
			continue
		}
		if j, dup := first[envs[i].Path]; dup {
			v.fail(fmt.Sprintf("environments[%d].path", i), "%s is also the path of environment %q (line %d); each environment needs its own directory",
				envs[i].Path, envs[j].Name, envs[j].Line)
			continue
		}
		first[envs[i].Path] = i
	}
	for i := range envs {
		if !ok[i] || first[envs[i].Path] != i {
			continue
		}
		for j := range envs {
			if j == i || !ok[j] || first[envs[j].Path] != j || !within(envs[i].Path, envs[j].Path) {
				continue
			}
			v.fail(fmt.Sprintf("environments[%d].path", i), "%s is inside environment %q's path %s (line %d); environment paths must not nest",
				envs[i].Path, envs[j].Name, envs[j].Path, envs[j].Line)
		}
	}
}

// within reports whether the clean relative path a is inside the directory b.
func within(a, b string) bool {
	return b == "." || strings.HasPrefix(a, b+"/")
}

func (v *validator) git() {
	g := &v.cfg.Git
	if g.Branch != "" {
		if err := checkBranch(g.Branch); err != nil {
			v.fail("git.branch", "%q is not a valid branch name: %v", g.Branch, err)
		}
	} else if v.has("git.branch") {
		v.fail("git.branch", "empty; remove it for the default %s", DefaultBranch)
	}
	v.template("git.commitMessage", g.CommitMessage)
	if v.has("git.signingKey") {
		s := g.SigningKey
		if s == nil {
			s = &SigningKey{}
		}
		hasGPG, hasSSH := v.has("git.signingKey.gpg"), v.has("git.signingKey.ssh")
		switch {
		case hasGPG && hasSSH:
			v.fail("git.signingKey", "both gpg and ssh; set one")
		case !hasGPG && !hasSSH:
			v.fail("git.signingKey", "neither gpg nor ssh; set one, or remove signingKey to leave commits unsigned")
		case hasGPG:
			if v.required("git.signingKey.gpg", s.GPG, "set a key path in the repo or env://VAR") {
				v.ref("git.signingKey.gpg", s.GPG)
			}
		case hasSSH:
			if v.required("git.signingKey.ssh", s.SSH, "set a key path in the repo or env://VAR") {
				v.ref("git.signingKey.ssh", s.SSH)
			}
		}
	}
	v.pullRequest("git.pullRequest", &g.PullRequest)
}

// pullRequest checks the keys set under p.
func (v *validator) pullRequest(p string, pr *PullRequest) {
	switch pr.Provider {
	case "", ProviderGitHub, ProviderGitLab, ProviderGitea:
	default:
		v.fail(p+".provider", "%q is not a provider; want github, gitlab or gitea (or leave it out to infer it from the remote)", pr.Provider)
	}
	if pr.URL != "" {
		u, err := url.Parse(pr.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			v.fail(p+".url", "%q is not an http(s) URL of the forge's API (and holds no credentials)", pr.URL)
		}
	}
	v.template(p+".title", pr.Title)
	v.template(p+".body", pr.Body)
	for _, list := range []struct {
		key  string
		vals []string
	}{{"labels", pr.Labels}, {"reviewers", pr.Reviewers}, {"assignees", pr.Assignees}} {
		for i, s := range list.vals {
			if strings.TrimSpace(s) == "" {
				v.fail(fmt.Sprintf("%s.%s[%d]", p, list.key, i), "empty")
			}
		}
	}
}

func (v *validator) template(p, text string) {
	if text == "" {
		return
	}
	if err := checkTemplate(p, text); err != nil {
		v.failErr(p, err, "not a valid template")
	}
}

// ref checks a value that is a path in the repo or env://VAR.
func (v *validator) ref(p, s string) {
	if rest, ok := strings.CutPrefix(s, envScheme); ok {
		if !envVarName.MatchString(rest) {
			v.fail(p, "%q: env:// must be followed by an environment variable name, e.g. env://COSIGN_PUBLIC_KEY", s)
		}
		return
	}
	if strings.Contains(s, "://") {
		v.fail(p, "%q: want a path in the repo or env://VAR", s)
		return
	}
	v.repoPath(p, s, "path")
}

// repoPath checks a path relative to the repo root; true when it is valid.
func (v *validator) repoPath(p, s, what string) bool {
	if !v.required(p, s, "set the "+what+", relative to the repo root") {
		return false
	}
	if err := checkRepoPath(s); err != nil {
		v.fail(p, "%q %v", s, err)
		return false
	}
	return true
}

const envScheme = "env://"

// EnvVar returns VAR for a value env://VAR, and false for anything else (a path).
func EnvVar(value string) (string, bool) {
	rest, ok := strings.CutPrefix(value, envScheme)
	if !ok || !envVarName.MatchString(rest) {
		return "", false
	}
	return rest, true
}

// checkRepoPath checks a slash-separated path relative to the repo root.
func checkRepoPath(s string) error {
	switch {
	case strings.HasPrefix(s, "/") || strings.HasPrefix(s, `\`) || (len(s) > 1 && s[1] == ':'):
		return fmt.Errorf("is absolute; write it relative to the repo root")
	case strings.ContainsRune(s, 0):
		return fmt.Errorf("contains a NUL byte")
	}
	if c := path.Clean(s); c == ".." || strings.HasPrefix(c, "../") {
		return fmt.Errorf("escapes the repo root; paths stay inside the config repo")
	}
	return nil
}

// checkComponent checks a name used as one component of a branch name (git check-ref-format).
func checkComponent(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("empty")
	case s == "@":
		return fmt.Errorf(`"@" alone is not allowed`)
	case strings.HasPrefix(s, ".") || strings.HasPrefix(s, "-"):
		return fmt.Errorf("it must not start with . or -")
	case strings.HasSuffix(s, ".") || strings.HasSuffix(s, ".lock"):
		return fmt.Errorf("it must not end with . or .lock")
	case strings.Contains(s, "..") || strings.Contains(s, "@{"):
		return fmt.Errorf("it must not contain .. or @{")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(" ~^:?*[\\/", r) {
			return fmt.Errorf("it must not contain %q", r)
		}
	}
	return nil
}

// checkBranch checks a branch name: slash-separated valid components.
func checkBranch(s string) error {
	for _, c := range strings.Split(s, "/") {
		if err := checkComponent(c); err != nil {
			return err
		}
	}
	return nil
}

var platformPart = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)

func checkPlatform(s string) error {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return fmt.Errorf("want 2 or 3 parts separated by /")
	}
	for _, part := range parts {
		if !platformPart.MatchString(part) {
			return fmt.Errorf("%q is not a lowercase os, architecture or variant", part)
		}
	}
	return nil
}

func countWord(n int) string {
	if w := []string{"zero", "one", "two", "three", "four", "five"}; n < len(w) {
		return w[n]
	}
	return fmt.Sprint(n)
}

func andList(s []string) string {
	if len(s) <= 1 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}
