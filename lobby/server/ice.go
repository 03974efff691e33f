package server

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"strconv"
	"time"

	"github.com/volleynet/volley/lobby"
)

// TURNCredentials returns time-limited TURN credentials in the standard TURN REST API
// scheme (coturn's use-auth-secret): username "expiry:id" with expiry in Unix seconds,
// credential base64(HMAC-SHA1(secret, username)).
func TURNCredentials(secret, id string, expiry time.Time) (username, credential string) {
	username = strconv.FormatInt(expiry.Unix(), 10) + ":" + id
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(username))
	return username, base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// iceServersFor returns the ICE servers sent to connection id.
func (s *Server) iceServersFor(id string) []lobby.ICEServer {
	out := make([]lobby.ICEServer, 0, len(s.cfg.ICEServers)+1)
	out = append(out, s.cfg.ICEServers...)
	if len(s.cfg.TURNURLs) > 0 {
		srv := lobby.ICEServer{URLs: s.cfg.TURNURLs}
		if s.cfg.TURNSecret != "" {
			srv.Username, srv.Credential = TURNCredentials(s.cfg.TURNSecret, id, s.cfg.Now().Add(s.cfg.TURNCredentialTTL))
		}
		out = append(out, srv)
	}
	return out
}
