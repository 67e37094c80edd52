package listen

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
)

// authorize checks the shared secret the way kind's sender carries it, in constant time:
//   - ghcr: X-Hub-Signature-256, "sha256=" and the hex HMAC-SHA256 of the body keyed with the
//     secret (GitHub signs every delivery; nothing else is accepted for it);
//   - every other kind: Authorization: Bearer <secret>, or Basic credentials whose password is
//     the secret (what a sender that only takes a URL sends for https://ferry:<secret>@host/…);
//   - dockerhub only, since Docker Hub can set neither a header nor credentials: a secret
//     query parameter.
//
// It returns "" when the request is authorized, else why not (for the log; never the secret).
func authorize(kind string, r *http.Request, body, secret []byte) string {
	if kind == KindGHCR {
		sig, ok := strings.CutPrefix(r.Header.Get("X-Hub-Signature-256"), "sha256=")
		if !ok {
			return "no X-Hub-Signature-256 signature"
		}
		got, err := hex.DecodeString(sig)
		if err != nil {
			return "malformed X-Hub-Signature-256 signature"
		}
		mac := hmac.New(sha256.New, secret)
		mac.Write(body)
		if !hmac.Equal(got, mac.Sum(nil)) {
			return "wrong X-Hub-Signature-256 signature"
		}
		return ""
	}
	var given string
	auth := r.Header.Get("Authorization")
	switch {
	case strings.HasPrefix(auth, "Bearer "):
		given = strings.TrimSpace(strings.TrimPrefix(auth, "Bearer "))
	case strings.HasPrefix(auth, "Basic "):
		_, pw, ok := r.BasicAuth()
		if !ok {
			return "malformed Basic credentials"
		}
		given = pw
	case auth == "" && kind == KindDockerHub && r.URL.Query().Has("secret"):
		given = r.URL.Query().Get("secret")
	case auth == "":
		return "no Authorization header"
	default:
		return "unsupported Authorization scheme"
	}
	if !equalSecret(given, secret) {
		return "wrong secret"
	}
	return ""
}

// equalSecret compares in constant time, over digests so that not even the length leaks.
func equalSecret(given string, secret []byte) bool {
	a, b := sha256.Sum256([]byte(given)), sha256.Sum256(secret)
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}
