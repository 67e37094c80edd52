package gitrepo

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sshAuth builds the auth for an ssh endpoint: a key (bytes or file, decrypted with the
// passphrase) or else the agent, and a host key check against known_hosts that negotiates only
// the algorithms of the keys known_hosts lists for the host (without that, a server offering
// several host key types fails as a "mismatch" when known_hosts holds only one of them).
// Errors name the key file and known_hosts files, never key material or the passphrase.
func sshAuth(ep *transport.Endpoint, a Auth) (transport.AuthMethod, error) {
	user := ep.User
	if user == "" {
		user = "git"
	}
	hostPort := sshHostPort(ep)
	cb, algos, err := hostKeyCheck(hostPort, a.KnownHosts)
	if err != nil {
		return nil, err
	}
	helper := gitssh.HostKeyCallbackHelper{HostKeyCallback: cb, HostKeyAlgorithms: algos}

	var pem []byte
	name := "given as bytes"
	switch {
	case len(a.SSHKey) > 0:
		pem = a.SSHKey
	case a.SSHKeyFile != "":
		name = a.SSHKeyFile
		pem, err = os.ReadFile(a.SSHKeyFile)
		if err != nil {
			return nil, fmt.Errorf("reading ssh key: %w", err)
		}
	default:
		agent, err := gitssh.NewSSHAgentAuth(user)
		if err != nil {
			return nil, fmt.Errorf("no ssh key file given and no ssh agent (SSH_AUTH_SOCK): give a key (FERRY_SSH_KEY) or start an agent: %w", err)
		}
		agent.HostKeyCallbackHelper = helper
		return agent, nil
	}
	signer, err := parseSSHKey(pem, a.SSHKeyPassphrase)
	if err != nil {
		return nil, fmt.Errorf("ssh key %s: %w", name, err)
	}
	return &gitssh.PublicKeys{User: user, Signer: signer, HostKeyCallbackHelper: helper}, nil
}

// parseSSHKey reads an OpenSSH or PEM private key. Its errors hold no key material.
func parseSSHKey(pem []byte, passphrase string) (ssh.Signer, error) {
	signer, err := ssh.ParsePrivateKey(pem)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		if passphrase == "" {
			return nil, errors.New("the key is encrypted and no passphrase was given")
		}
		signer, err = ssh.ParsePrivateKeyWithPassphrase(pem, []byte(passphrase))
		if errors.Is(err, x509.IncorrectPasswordError) {
			return nil, errors.New("wrong passphrase: the key could not be decrypted")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("not a usable private key (OpenSSH or PEM format): %w", err)
	}
	return signer, nil
}

// sshHostPort is the address go-git dials for ep (and so the name the host key callback is
// asked about): ~/.ssh/config's Hostname and Port for the host when it sets a Hostname,
// else the URL's host and port (default 22).
func sshHostPort(ep *transport.Endpoint) string {
	host, port := ep.Host, ep.Port
	if gitssh.DefaultSSHConfig != nil {
		if h := gitssh.DefaultSSHConfig.Get(ep.Host, "Hostname"); h != "" {
			host = h
			if p, err := strconv.Atoi(gitssh.DefaultSSHConfig.Get(ep.Host, "Port")); err == nil {
				port = p
			}
		}
	}
	if port <= 0 {
		port = gitssh.DefaultPort
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// hostKeyCheck reads the known_hosts files (each must exist; none given: go-git's defaults)
// and returns the host key callback with clear errors wrapping ErrHostKey, and the host key
// algorithms to offer for hostPort.
func hostKeyCheck(hostPort string, files []string) (ssh.HostKeyCallback, []string, error) {
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			return nil, nil, fmt.Errorf("known_hosts file: %w (ssh host keys are always checked)", err)
		}
	}
	db, err := gitssh.NewKnownHostsDb(files...)
	if err != nil {
		return nil, nil, fmt.Errorf("reading known_hosts: %w (ssh host keys are always checked: list the server's key in ~/.ssh/known_hosts or a file named by SSH_KNOWN_HOSTS)", err)
	}
	where := "known_hosts"
	if len(files) > 0 {
		where = strings.Join(files, ", ")
	}
	check := db.HostKeyCallback()
	cb := func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := check(hostname, remote, key)
		if err == nil {
			return nil
		}
		fp := key.Type() + " " + ssh.FingerprintSHA256(key)
		var keyErr *knownhosts.KeyError
		var revoked *knownhosts.RevokedError
		switch {
		case errors.As(err, &keyErr) && len(keyErr.Want) > 0:
			return fmt.Errorf("%w: %s offered host key %s, which does not match the key listed for it at %s:%d: if the server's key really changed, check the new fingerprint out of band and update known_hosts", ErrHostKey, hostname, fp, keyErr.Want[0].Filename, keyErr.Want[0].Line)
		case errors.As(err, &keyErr):
			return fmt.Errorf("%w: %s (host key %s) is not listed in %s: add its key after checking the fingerprint (ssh-keyscan)", ErrHostKey, hostname, fp, where)
		case errors.As(err, &revoked):
			return fmt.Errorf("%w: %s offered host key %s, which is revoked in %s:%d", ErrHostKey, hostname, fp, revoked.Revoked.Filename, revoked.Revoked.Line)
		}
		return fmt.Errorf("%w: %s: %w", ErrHostKey, hostname, err)
	}
	return cb, db.HostKeyAlgorithms(hostPort), nil
}

// explainSSHAuth adds what to do to the ssh client's "unable to authenticate" error.
func explainSSHAuth(err error, auth transport.AuthMethod) error {
	if err == nil || !strings.Contains(err.Error(), "ssh: unable to authenticate") {
		return err
	}
	switch a := auth.(type) {
	case *gitssh.PublicKeys:
		return fmt.Errorf("%w: the server refused the key (%s %s) for user %q: authorize its public key there, or fix the user in the URL", err, a.Signer.PublicKey().Type(), ssh.FingerprintSHA256(a.Signer.PublicKey()), a.User)
	case *gitssh.PublicKeysCallback:
		return fmt.Errorf("%w: the server refused every key of the ssh agent for user %q: authorize one of them there, or fix the user in the URL", err, a.User)
	}
	return err
}
