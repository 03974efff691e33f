//go:build !js

package netcode

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

// NewWebRTCAPI returns a pion API configured exactly as netcode configures its own
// peers: the limits of cfg (SCTP max message size and RTO max, DTLS handshake deadline,
// ICE timeouts), its network (cfg.Net, e.g. a vnet) and its ICE mode (loopback only,
// public IPs). A benchmark's raw-pion baseline uses it to compare like with like.
func NewWebRTCAPI(cfg TransportConfig) (*webrtc.API, error) {
	return newAPI(cfg, nil)
}

// iceCheckInterval is pion's interval between connectivity checks while ICE connects.
const iceCheckInterval = 200 * time.Millisecond

func newAPI(cfg TransportConfig, mux ice.UDPMux) (*webrtc.API, error) {
	cfg = cfg.withDefaults()
	var se webrtc.SettingEngine
	se.SetSCTPMaxMessageSize(uint32(cfg.MaxMessageBytes))
	se.SetSCTPRTOMax(cfg.SCTPRTOMax)
	se.SetICETimeouts(cfg.ICEDisconnectedTimeout, cfg.ICEFailedTimeout, cfg.ICEKeepaliveInterval)
	se.SetICEMaxBindingRequests(uint16(min(cfg.ICEPairTimeout/iceCheckInterval, 1<<15)))
	hs := cfg.DTLSHandshakeTimeout
	se.SetDTLSConnectContextMaker(func() (context.Context, func()) {
		return context.WithTimeout(context.Background(), hs)
	})
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	if cfg.Net != nil {
		se.SetNet(cfg.Net)
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	} else if cfg.ICE.LoopbackOnly {
		loopback := func(ip net.IP) bool { return ip.IsLoopback() }
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(loopback)
		se.SetRemoteIPFilter(loopback)
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
		if cfg.osNet != nil {
			se.SetNet(cfg.osNet)
		}
	}
	if len(cfg.ICE.PublicIPs) > 0 {
		// One rule per entry, as pion's former SetNAT1To1IPs did: "public" replaces
		// the address of every host candidate, "public/local" only local's.
		rules := make([]webrtc.ICEAddressRewriteRule, 0, len(cfg.ICE.PublicIPs))
		for _, ip := range cfg.ICE.PublicIPs {
			public, local, _ := strings.Cut(ip, "/")
			rules = append(rules, webrtc.ICEAddressRewriteRule{
				External:        []string{strings.TrimSpace(public)},
				Local:           strings.TrimSpace(local),
				AsCandidateType: webrtc.ICECandidateTypeHost,
				Mode:            webrtc.ICEAddressRewriteReplace,
			})
		}
		if err := se.SetICEAddressRewriteRules(rules...); err != nil {
			return nil, fmt.Errorf("%w: ICEConfig.PublicIPs: %w", ErrConfig, err)
		}
	}
	if mux != nil {
		se.SetICEUDPMux(mux)
	}
	// An empty interceptor registry: pion's defaults (NACK, RTCP reports, TWCC,
	// stats) serve RTP media, which a data-channel-only session never carries, and
	// they cost every peer connection goroutines and timers.
	return webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithInterceptorRegistry(&interceptor.Registry{})), nil
}
