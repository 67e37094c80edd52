package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/urfave/cli/v2"

	"github.com/ferryhq/ferry/promote"
	"github.com/ferryhq/ferry/registry"
)

// verifyFlags are cosign's verification flags, shared by `verify` and `tags`.
func verifyFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "key", Usage: "cosign public key: a PEM file or env://VAR (repeatable; any one that verifies is enough)", EnvVars: []string{"FERRY_KEY"}},
		&cli.StringFlag{Name: "certificate-identity", Usage: "keyless: the certificate identity (SAN) that must have signed", EnvVars: []string{"FERRY_CERTIFICATE_IDENTITY"}},
		&cli.StringFlag{Name: "certificate-identity-regexp", Usage: "keyless: a regexp the certificate identity must match", EnvVars: []string{"FERRY_CERTIFICATE_IDENTITY_REGEXP"}},
		&cli.StringFlag{Name: "certificate-oidc-issuer", Usage: "keyless: the OIDC issuer of the certificate", EnvVars: []string{"FERRY_CERTIFICATE_OIDC_ISSUER"}},
		&cli.StringFlag{Name: "certificate-oidc-issuer-regexp", Usage: "keyless: a regexp the OIDC issuer must match", EnvVars: []string{"FERRY_CERTIFICATE_OIDC_ISSUER_REGEXP"}},
		&cli.StringFlag{Name: "trusted-root", Usage: "Sigstore trusted_root.json (default: the public-good root)", EnvVars: []string{"FERRY_TRUSTED_ROOT"}},
		&cli.BoolFlag{Name: "require-tlog", Usage: "key signatures: require a transparency-log entry", EnvVars: []string{"FERRY_REQUIRE_TLOG"}},
		&cli.BoolFlag{Name: "insecure-ignore-tlog", Usage: "keyless: accept signatures with no transparency-log entry or signed timestamp (warns every run)", EnvVars: []string{"FERRY_INSECURE_IGNORE_TLOG"}},
		&cli.BoolFlag{Name: "insecure-ignore-sct", Usage: "keyless: do not require a certificate transparency SCT", EnvVars: []string{"FERRY_INSECURE_IGNORE_SCT"}},
		&cli.StringSliceFlag{Name: "attestation-type", Usage: "require an attestation of this predicate type (a URI, or slsaprovenance1, slsaprovenance, vuln, …), signed like the image (repeatable)", EnvVars: []string{"FERRY_ATTESTATION_TYPE"}},
		&cli.StringSliceFlag{Name: "attestation-match", Usage: "PATH=VALUE: a dotted predicate path and an exact value or /regexp/ the one --attestation-type must say (repeatable)", EnvVars: []string{"FERRY_ATTESTATION_MATCH"}},
		&cli.StringFlag{Name: "attestation-max-severity", Usage: "with --attestation-type vuln: no finding above none|low|medium|high|critical", EnvVars: []string{"FERRY_ATTESTATION_MAX_SEVERITY"}},
		&cli.DurationFlag{Name: "attestation-max-age", Usage: "with --attestation-type vuln: the scan finished at most this long ago (e.g. 168h)", EnvVars: []string{"FERRY_ATTESTATION_MAX_AGE"}},
	}
}

// attestationsFromFlags turns the --attestation-* flags into required attestations: one per
// --attestation-type; --attestation-match applies to the only type given, the severity and age
// limits to the vuln one. Mistakes are usage errors, before any request.
func attestationsFromFlags(c *cli.Context) ([]registry.Attestation, error) {
	types, matches := c.StringSlice("attestation-type"), c.StringSlice("attestation-match")
	sev, age := c.String("attestation-max-severity"), c.Duration("attestation-max-age")
	if len(types) == 0 {
		if len(matches) > 0 || sev != "" || age != 0 {
			return nil, usageError("--attestation-match, --attestation-max-severity and --attestation-max-age need --attestation-type")
		}
		return nil, nil
	}
	if len(matches) > 0 && len(types) > 1 {
		return nil, usageError("--attestation-match applies to one --attestation-type; for several attestations with matches, list them in ferry.yaml (--config)")
	}
	var out []registry.Attestation
	vuln := -1
	for i, t := range types {
		uri, err := registry.PredicateTypeURI(t)
		if err != nil {
			return nil, usageError("--attestation-type: %v", err)
		}
		if uri == registry.PredicateVuln {
			vuln = i
		}
		out = append(out, registry.Attestation{PredicateType: uri})
	}
	for _, m := range matches {
		p, want, ok := strings.Cut(m, "=")
		if !ok || p == "" {
			return nil, usageError("--attestation-match %q: want PATH=VALUE, e.g. buildDefinition.externalParameters.workflow.ref=/^refs/heads/main$/", m)
		}
		out[0].Match = append(out[0].Match, registry.FieldMatch{Path: p, Want: want})
	}
	if sev != "" || age != 0 {
		if vuln < 0 {
			return nil, usageError("--attestation-max-severity and --attestation-max-age apply to --attestation-type vuln")
		}
		out[vuln].MaxSeverity, out[vuln].MaxAge = sev, age
	}
	return out, nil
}

// verifyEntriesFromFlags turns the verify flags into entries: one per --key, plus one keyless
// entry when identity flags are given. No verify flags at all gives nil entries and no error
// (callers decide whether that is allowed); conflicting or incomplete flags are usage errors.
func verifyEntriesFromFlags(c *cli.Context) ([]registry.VerifyEntry, error) {
	keys := c.StringSlice("key")
	id, idRE := c.String("certificate-identity"), c.String("certificate-identity-regexp")
	iss, issRE := c.String("certificate-oidc-issuer"), c.String("certificate-oidc-issuer-regexp")
	trustedRoot := c.String("trusted-root")
	requireTlog, ignoreTlog, ignoreSCT := c.Bool("require-tlog"), c.Bool("insecure-ignore-tlog"), c.Bool("insecure-ignore-sct")
	keyless := id != "" || idRE != "" || iss != "" || issRE != ""

	switch {
	case id != "" && idRE != "":
		return nil, usageError("--certificate-identity and --certificate-identity-regexp conflict: give one")
	case iss != "" && issRE != "":
		return nil, usageError("--certificate-oidc-issuer and --certificate-oidc-issuer-regexp conflict: give one")
	case requireTlog && ignoreTlog:
		return nil, usageError("--require-tlog and --insecure-ignore-tlog conflict: give one")
	case keyless && id == "" && idRE == "":
		return nil, usageError("keyless verification needs --certificate-identity or --certificate-identity-regexp")
	case keyless && iss == "" && issRE == "":
		return nil, usageError("keyless verification needs --certificate-oidc-issuer or --certificate-oidc-issuer-regexp")
	case requireTlog && len(keys) == 0:
		return nil, usageError("--require-tlog applies to --key signatures (keyless ones always need the log)")
	case (ignoreTlog || ignoreSCT) && !keyless:
		return nil, usageError("--insecure-ignore-tlog and --insecure-ignore-sct apply to keyless verification (--certificate-identity…)")
	case !keyless && len(keys) == 0 && trustedRoot != "":
		return nil, usageError("--trusted-root needs --key or --certificate-identity…")
	}
	atts, err := attestationsFromFlags(c)
	if err != nil {
		return nil, err
	}
	if len(atts) > 0 && len(keys) == 0 && !keyless {
		return nil, usageError("--attestation-type needs --key or --certificate-identity…: an attestation must be signed like the image")
	}
	var entries []registry.VerifyEntry
	for _, k := range keys {
		if k == "" {
			return nil, usageError("--key is empty")
		}
		entries = append(entries, registry.VerifyEntry{Key: k, RequireTlog: requireTlog, TrustedRoot: trustedRoot, Attestations: atts})
	}
	if keyless {
		entries = append(entries, registry.VerifyEntry{Keyless: &registry.Keyless{
			Identity: id, IdentityRegexp: idRE, Issuer: iss, IssuerRegexp: issRE,
			TrustedRoot: trustedRoot, InsecureIgnoreTlog: ignoreTlog, InsecureIgnoreSCT: ignoreSCT,
		}, Attestations: atts})
	}
	return entries, nil
}

// configVerifyEntries reads REF's image entry from ferry.yaml in the local checkout --repo
// (or the absolute --config file); key paths are relative to the config repo's root.
func configVerifyEntries(c *cli.Context, ref name.Reference) ([]registry.VerifyEntry, []registry.Option, error) {
	repo := c.String("repo")
	cfg, _, err := loadConfig(repo, c.String("config"))
	if err != nil {
		return nil, nil, err
	}
	img := cfg.ImageByRepository(ref.Context().Name())
	if img == nil {
		return nil, nil, fmt.Errorf("%s: no image in %s has repository %s", ref, c.String("config"), ref.Context().Name())
	}
	if len(img.Verify) == 0 {
		return nil, nil, fmt.Errorf("image %s has no verify entries in %s (insecureSkipVerify: true)", img.Name, c.String("config"))
	}
	// ferry.yaml's registries section (tokenEnv, insecure, rate) applies as in the pipeline.
	regOpts := promote.RegistryOptions(cfg)
	entries, err := promote.VerifyEntries(img, func(p string) (string, error) {
		if p == "" || strings.HasPrefix(p, "env://") || filepath.IsAbs(p) {
			return p, nil
		}
		return filepath.Join(repo, filepath.FromSlash(p)), nil
	})
	return entries, regOpts, err
}

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "check an image's cosign signature (exit 3 when refused)",
		ArgsUsage: "REF",
		Description: `Resolves REF to a digest and verifies that digest's cosign signatures (cosign 2 .sig tags
and cosign 3 Sigstore bundles). The digest printed is the digest that verified.

Examples:
   ferry verify --key cosign.pub ghcr.io/acme/api:1.4.2
   ferry verify --certificate-identity-regexp '^https://github.com/acme/' \
     --certificate-oidc-issuer https://token.actions.githubusercontent.com ghcr.io/acme/api:1.4.2`,
		Flags: append(verifyFlags(), outputFlag(),
			&cli.StringFlag{Name: "config", Usage: "without verify flags: use REF's image entry from this ferry.yaml (a path in --repo, or absolute)", EnvVars: []string{"FERRY_CONFIG"}},
			&cli.StringFlag{Name: "repo", Value: ".", Usage: "the local checkout --config is read from", EnvVars: []string{"FERRY_REPO"}}),
		Action: runVerify,
	}
}

type verifyResult struct {
	Ref      string `json:"ref"`
	Digest   string `json:"digest"`
	Verified bool   `json:"verified"`
	Signer   string `json:"signer,omitempty"`
	// Source is the repository@ref a verified provenance attestation names.
	Source string `json:"source,omitempty"`
	Reason string `json:"reason,omitempty"`
	Detail string `json:"detail,omitempty"`
	// Attestations found for the digest and what each said, as the entry that verified the
	// signature saw them.
	Attestations []registry.AttestationResult `json:"attestations"`
}

func runVerify(c *cli.Context) error {
	format, err := outputFormat(c)
	if err != nil {
		return err
	}
	if c.NArg() != 1 {
		return usageError("verify takes one REF, got %d arguments", c.NArg())
	}
	arg := c.Args().First()
	ref, err := name.ParseReference(arg)
	if err != nil {
		return usageError("REF %q: %v", arg, err)
	}
	entries, err := verifyEntriesFromFlags(c)
	if err != nil {
		return err
	}
	var regOpts []registry.Option
	if len(entries) == 0 && c.String("config") != "" {
		if entries, regOpts, err = configVerifyEntries(c, ref); err != nil {
			return err
		}
	}
	if len(entries) == 0 {
		return usageError("verify needs --key PATH, --certificate-identity[-regexp] with --certificate-oidc-issuer[-regexp], or --config")
	}
	client, err := registry.New(regOpts...)
	if err != nil {
		return err
	}
	if ref, err = client.ParseReference(arg); err != nil { // with the client's view of plain-HTTP hosts
		return usageError("REF %q: %v", arg, err)
	}
	v, err := registry.NewVerifier(entries, registry.WithLogger(slog.Default()), registry.WithRemoteOptions(client.RemoteOptions(c.Context)...),
		registry.WithRemoteOptionsFor(client.RemoteOptionsFor), registry.WithCache(client), registry.WithAllAttestations())
	if err != nil {
		return err
	}

	// Verify the digest, never the tag: the digest reported is the digest that verified.
	d, ok := ref.(name.Digest)
	if !ok {
		dgst, err := client.Digest(c.Context, arg)
		if err != nil {
			return fmt.Errorf("resolving %s to a digest: %w", ref, err)
		}
		d = ref.Context().Digest(dgst)
	}
	res := verifyResult{Ref: arg, Digest: d.DigestStr(), Attestations: []registry.AttestationResult{}}
	ver, verr := v.Verify(c.Context, d)
	var re *registry.RefusalError
	switch {
	case verr == nil:
		res.Verified, res.Digest, res.Signer, res.Source = true, ver.Digest, ver.Signer, ver.Source
		res.Attestations = append(res.Attestations, ver.Attestations...)
	case errors.As(verr, &re):
		res.Reason, res.Detail = re.Reason, re.Detail
		res.Attestations = append(res.Attestations, re.Attestations...)
	default:
		return verr
	}
	if format == "json" {
		if err := writeJSON(c.App.Writer, res); err != nil {
			return err
		}
	} else {
		writeVerifyText(c.App.Writer, d, res)
	}
	if verr != nil {
		return refused(verr)
	}
	return nil
}

// writeVerifyText prints a verify result for people: the outcome, then each attestation found.
func writeVerifyText(w io.Writer, d name.Digest, res verifyResult) {
	if res.Verified {
		fmt.Fprintf(w, "verified %s@%s\nsigner: %s\n", d.Context().Name(), res.Digest, res.Signer)
	} else {
		fmt.Fprintf(w, "refused %s@%s: %s\n%s\n", d.Context().Name(), res.Digest, res.Reason, res.Detail)
	}
	for _, a := range res.Attestations {
		state := "not verified"
		switch {
		case a.Required && a.Passed:
			state = "required, passed"
		case a.Required && a.Verified:
			state = "required, did not match"
		case a.Required:
			state = "required, not verified"
		case a.Verified:
			state = "verified"
		}
		fmt.Fprintf(w, "attestation %s (%s, %s): %s\n", cmp.Or(a.PredicateType, "of unknown type"), a.Store, state, cmp.Or(a.Problem, a.Said, "-"))
	}
}
