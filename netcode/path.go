//go:build !js

package netcode

// ICEPath describes the candidate pair a connection uses: each end's candidate type
// ("host", "srflx", "prflx" or "relay") and address. A "relay" local type means the
// client's traffic goes through its TURN server.
type ICEPath struct {
	LocalType, LocalAddr   string // this end's candidate type and "ip:port"
	RemoteType, RemoteAddr string // the peer's candidate type and "ip:port"
}

// SelectedPath returns the candidate pair ICE has selected, or false before there is
// one (or after the connection closed), and for a local client (DialLocal), which has
// no ICE. Native only.
func (c *Client) SelectedPath() (ICEPath, bool) {
	if c.pc == nil {
		return ICEPath{}, false
	}
	sctp := c.pc.SCTP()
	if sctp == nil || sctp.Transport() == nil || sctp.Transport().ICETransport() == nil {
		return ICEPath{}, false
	}
	pair, err := sctp.Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil || pair.Local == nil || pair.Remote == nil {
		return ICEPath{}, false
	}
	return ICEPath{
		LocalType:  pair.Local.Typ.String(),
		LocalAddr:  pair.Local.Address,
		RemoteType: pair.Remote.Typ.String(),
		RemoteAddr: pair.Remote.Address,
	}, true
}
