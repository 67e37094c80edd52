package sshtest

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestStart checks the server with OpenSSH's own client: the generated client key logs in and
// the known_hosts file is accepted with strict host key checking; a known_hosts file with
// another key is refused.
func TestStart(t *testing.T) {
	s := Start(t, Options{Env: []string{"FERRY_SSHTEST=yes"}})
	other := filepath.Join(t.TempDir(), "other")
	wrong := filepath.Join(t.TempDir(), "known_hosts")
	s.WriteKnownHosts(t, wrong, KeyGen(t, other, "ed25519", ""))
	for _, tc := range []struct {
		name, knownHosts string
		wantOK           bool
	}{
		{"known host", s.KnownHosts, true},
		{"wrong host key", wrong, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command("ssh", "-F", "/dev/null", "-i", s.ClientKey, "-p", strconv.Itoa(s.Port),
				"-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile="+tc.knownHosts,
				"-o", "GlobalKnownHostsFile=/dev/null", s.User+"@"+s.Host, "echo $FERRY_SSHTEST")
			out, err := cmd.CombinedOutput()
			if tc.wantOK && (err != nil || strings.TrimSpace(string(out)) != "yes") {
				t.Fatalf("ssh: %v\n%s", err, out)
			}
			if !tc.wantOK && err == nil {
				t.Fatalf("ssh with a wrong host key succeeded:\n%s", out)
			}
		})
	}
}
