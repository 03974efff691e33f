//go:build js

package netcode

import (
	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// NewWebRTCAPI returns a pion API for the browser build. The browser's
// RTCPeerConnection chooses its own limits and candidates, so cfg is not applied
// beyond what the RTCConfiguration carries (ICE servers).
func NewWebRTCAPI(cfg TransportConfig) (*webrtc.API, error) {
	return webrtc.NewAPI(), nil
}

func newAPI(cfg TransportConfig, mux ice.UDPMux) (*webrtc.API, error) {
	return webrtc.NewAPI(), nil
}
