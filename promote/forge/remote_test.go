package forge

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseRemote(t *testing.T) {
	tests := []struct {
		raw     string
		want    remote
		wantErr error
	}{
		{"https://github.com/acme/config.git", remote{Scheme: "https", Host: "github.com", Path: "acme/config"}, nil},
		{"https://x-access-token:tok@github.com/acme/config", remote{Scheme: "https", Host: "github.com", Path: "acme/config"}, nil},
		{"http://127.0.0.1:3000/ferry/config.git/", remote{Scheme: "http", Host: "127.0.0.1:3000", Path: "ferry/config"}, nil},
		{"git@github.com:acme/config.git", remote{Host: "github.com", Path: "acme/config"}, nil},
		{"ssh://git@gitlab.example.com:2222/platform/deploy/config.git", remote{Host: "gitlab.example.com", Path: "platform/deploy/config"}, nil},
		{"GitLab.com:group/sub/proj", remote{Host: "gitlab.com", Path: "group/sub/proj"}, nil},
		{"file:///srv/git/config.git", remote{}, ErrNoForge},
		{"/srv/git/config.git", remote{}, ErrNoForge},
		{"../config", remote{}, ErrNoForge},
		{"config", remote{}, ErrNoForge},
	}
	for _, tc := range tests {
		t.Run(tc.raw, func(t *testing.T) {
			got, err := parseRemote(tc.raw)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("parseRemote(%q) error = %v, want %v", tc.raw, err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("parseRemote(%q) (-want +got):\n%s", tc.raw, diff)
			}
		})
	}
}

func TestParseRemoteErrorsHideCredentials(t *testing.T) {
	for _, raw := range []string{
		"https://user:" + sentinelToken + "@github.com/onlyowner",
		"ftp://user:" + sentinelToken + "@github.com/acme/config",
		"https://user:" + sentinelToken + "@/acme/config",
	} {
		_, err := parseRemote(raw)
		if err == nil {
			t.Errorf("parseRemote(%q): no error", raw)
			continue
		}
		if strings.Contains(err.Error(), sentinelToken) {
			t.Errorf("error shows the credentials: %v", err)
		}
	}
}

func TestInferProvider(t *testing.T) {
	tests := []struct {
		host, want string
		wantErr    error
	}{
		{"github.com", GitHub, nil},
		{"gitlab.com", GitLab, nil},
		{"gitlab.example.com", GitLab, nil},
		{"code.gitlab.internal:8443", GitLab, nil},
		{"codeberg.org", Gitea, nil},
		{"gitea.example.com", Gitea, nil},
		{"git.example.com", "", ErrUnknownProvider},
		{"ghe.example.com", "", ErrUnknownProvider},
	}
	for _, tc := range tests {
		t.Run(tc.host, func(t *testing.T) {
			got, err := inferProvider(tc.host)
			if !errors.Is(err, tc.wantErr) || got != tc.want {
				t.Errorf("inferProvider(%q) = %q, %v; want %q, %v", tc.host, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
		wantIs  error
	}{
		{"no token", Config{RemoteURL: "https://github.com/acme/config"}, "set GITHUB_TOKEN", nil},
		{"unknown host", Config{RemoteURL: "https://git.example.com/acme/config", Token: "t"}, "git.pullRequest.provider", ErrUnknownProvider},
		{"local remote", Config{RemoteURL: "file:///tmp/config.git", Token: "t"}, "", ErrNoForge},
		{"bad provider", Config{Provider: "bitbucket", RemoteURL: "https://x/acme/config", Token: "t"}, "unknown provider", nil},
		{"app on gitlab", Config{RemoteURL: "https://gitlab.com/acme/config", AppID: 1, InstallationID: 2, PrivateKeyPath: "k.pem"}, "github only", nil},
		{"half an app", Config{RemoteURL: "https://github.com/acme/config", AppID: 1}, "all of AppID", nil},
		{"app and token", Config{RemoteURL: "https://github.com/acme/config", AppID: 1, InstallationID: 2, PrivateKeyPath: "k.pem", Token: "t"}, "not both", nil},
		{"app key missing", Config{RemoteURL: "https://github.com/acme/config", AppID: 1, InstallationID: 2, PrivateKeyPath: "/nonexistent/k.pem"}, "reading private key /nonexistent/k.pem", nil},
		{"nested path on github", Config{RemoteURL: "https://github.com/a/b/c", Token: "t"}, "want owner/repo", nil},
		{"gitlab nested path", Config{RemoteURL: "https://gitlab.com/a/b/c", Token: "t"}, "", nil},
		{"gitea with API URL", Config{Provider: "Gitea", BaseURL: "https://gitea.example.com/api/v1/", RemoteURL: "git@gitea.example.com:a/b.git", Token: "t"}, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			switch {
			case tc.wantErr == "" && tc.wantIs == nil:
				if err != nil {
					t.Fatalf("New: %v", err)
				}
			case err == nil:
				t.Fatalf("New: no error, want %q", tc.wantErr)
			case !strings.Contains(err.Error(), tc.wantErr):
				t.Errorf("New error %q does not mention %q", err, tc.wantErr)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("New error %v, want %v", err, tc.wantIs)
			}
		})
	}
}

func FuzzParseRemote(f *testing.F) {
	for _, s := range []string{
		"https://github.com/acme/config.git", "git@github.com:acme/config.git", "ssh://git@h:22/a/b",
		"file:///x", "/x/y", "https://u:p@h/a/b", "c:\\x", "::", "https://h/a//b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		r, err := parseRemote(raw)
		if err != nil {
			if strings.Contains(raw, "://") && strings.Contains(raw, "@") {
				if u := userinfo.FindStringSubmatch(raw); u != nil {
					secret := strings.TrimPrefix(strings.TrimSuffix(u[0], "@"), u[1])
					// The same characters may stand elsewhere in the URL (A://0000@0000: the host
					// is "0000" too; hdtp://hdtp@: the scheme is); only a secret found nowhere
					// else can leak. userinfo is anchored: u[0] is the URL's start, u[1] its scheme.
					rest := u[1] + raw[len(u[0]):]
					// A secret holding '@' (A://@000@000) is partly the separator before the host.
					if len(secret) > 3 && !strings.Contains(secret, "@") && !strings.Contains(rest, secret) && strings.Contains(err.Error(), secret) {
						t.Errorf("error shows credentials %q: %v", secret, err)
					}
				}
			}
			return
		}
		if r.Host == "" || !strings.Contains(r.Path, "/") || strings.HasPrefix(r.Path, "/") || strings.HasSuffix(r.Path, ".git") {
			t.Errorf("parseRemote(%q) = %+v: want a host and an owner/repo path", raw, r)
		}
	})
}

func TestCommitURL(t *testing.T) {
	tests := []struct {
		cfg     Config
		want    string
		wantErr error
	}{
		{Config{RemoteURL: "git@github.com:acme/config.git"}, "https://github.com/acme/config/commit/abc", nil},
		{Config{RemoteURL: "https://tok@gitlab.com/g/sub/config.git"}, "https://gitlab.com/g/sub/config/-/commit/abc", nil},
		{Config{Provider: "gitea", RemoteURL: "http://127.0.0.1:3000/ferry/config.git"}, "http://127.0.0.1:3000/ferry/config/commit/abc", nil},
		{Config{RemoteURL: "/srv/config.git"}, "", ErrNoForge},
	}
	for _, tc := range tests {
		t.Run(tc.cfg.RemoteURL, func(t *testing.T) {
			got, err := CommitURL(tc.cfg, "abc")
			if !errors.Is(err, tc.wantErr) || got != tc.want {
				t.Errorf("CommitURL = %q, %v; want %q, %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// TestServingProvider: which forge's token may go with Git requests to a remote.
func TestServingProvider(t *testing.T) {
	tests := []struct {
		name                         string
		provider, baseURL, remoteURL string
		want                         string
	}{
		{"github.com inferred", "", "", "https://github.com/acme/config.git", GitHub},
		{"gitlab.com inferred", "", "", "https://gitlab.com/group/sub/config.git", GitLab},
		{"codeberg inferred", "", "", "https://codeberg.org/acme/config.git", Gitea},
		{"unknown host gets nothing", "", "", "https://git.example.com/acme/config.git", ""},
		{"gitea configured, no url: the remote's own host", "gitea", "", "http://127.0.0.3:3000/acme/config.git", Gitea},
		{"gitea configured with its url", "gitea", "http://127.0.0.3:3000", "http://127.0.0.3:3000/acme/config.git", Gitea},
		{"gitea configured elsewhere: the remote is not its", "gitea", "http://127.0.0.3:3000", "http://127.0.0.2:3000/acme/config.git", ""},
		{"gitea configured elsewhere, remote on github.com", "gitea", "https://gitea.example.com", "https://github.com/acme/config", GitHub},
		{"same host, other port is another host", "gitea", "https://forge.example.com:3000", "https://forge.example.com/acme/config", ""},
		{"github enterprise by url", "github", "https://ghe.example.com/api/v3", "https://ghe.example.com/acme/config.git", GitHub},
		{"github configured, no url, other host", "github", "", "https://git.example.com/acme/config.git", ""},
		{"gitlab self-managed by url", "gitlab", "https://code.example.com/api/v4", "https://code.example.com/platform/config.git", GitLab},
		{"gitlab configured, remote on github.com", "gitlab", "", "https://github.com/acme/config", GitHub},
		{"ssh takes no token", "", "", "git@github.com:acme/config.git", ""},
		{"local path", "gitea", "", "/srv/config.git", ""},
		{"plain http to github.com is still inferred", "github", "", "http://github.com/acme/config", GitHub},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ServingProvider(Config{Provider: tc.provider, BaseURL: tc.baseURL, RemoteURL: tc.remoteURL})
			if got != tc.want {
				t.Errorf("ServingProvider(%q, %q, %q) = %q, want %q", tc.provider, tc.baseURL, tc.remoteURL, got, tc.want)
			}
		})
	}
}
