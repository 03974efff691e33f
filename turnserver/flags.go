package turnserver

import (
	"flag"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Flags are the command-line flags of a relay, shared by the lobby command (prefix
// "turn-": -turn-listen turns the embedded relay on), the arena host command and
// turnserver's own command (no prefix).
type Flags struct {
	Listen     *string // TURN over UDP and TCP on this address ("" off)
	NoTCP      *bool   // UDP only
	RelayIP    *string // the public IP relayed candidates advertise
	RelayPorts *string // the relay port range, "MIN-MAX"
	UserQuota  *int    // live allocations per user
	MaxAllocs  *int    // live allocations in all
	Bandwidth  *int    // bytes per second per allocation, both directions
}

// RegisterFlags defines the relay's flags on fs, each name with prefix.
func RegisterFlags(fs *flag.FlagSet, prefix string) *Flags {
	return &Flags{
		Listen:     fs.String(prefix+"listen", "", "run a TURN relay on this address, UDP and TCP (e.g. :3478); its URLs go to clients"),
		NoTCP:      fs.Bool(prefix+"no-tcp", false, "TURN relay: no TURN over TCP (for networks that block UDP)"),
		RelayIP:    fs.String(prefix+"relay-ip", "", "TURN relay: public IP that relayed candidates advertise (default: the listen IP)"),
		RelayPorts: fs.String(prefix+"relay-ports", "49152-65535", "TURN relay: relay port range, MIN-MAX"),
		UserQuota:  fs.Int(prefix+"user-quota", 8, "TURN relay: live allocations per user (lobby connection)"),
		MaxAllocs:  fs.Int(prefix+"max-allocations", 4096, "TURN relay: live allocations in all"),
		Bandwidth:  fs.Int(prefix+"bandwidth", 256<<10, "TURN relay: bytes per second per allocation, both directions"),
	}
}

// Enabled reports whether the listen flag was given.
func (f *Flags) Enabled() bool { return *f.Listen != "" }

// Config returns the relay configuration the flags describe, with secret as its
// Secret.
func (f *Flags) Config(secret string) (Config, error) {
	cfg := Config{
		Secret:                secret,
		ListenUDP:             *f.Listen,
		MaxAllocationsPerUser: *f.UserQuota,
		MaxAllocations:        *f.MaxAllocs,
		AllocationBandwidth:   *f.Bandwidth,
	}
	if !*f.NoTCP {
		cfg.ListenTCP = *f.Listen
	}
	if *f.RelayIP != "" {
		if cfg.RelayIP = net.ParseIP(*f.RelayIP); cfg.RelayIP == nil {
			return Config{}, fmt.Errorf("%w: relay IP %q", ErrConfig, *f.RelayIP)
		}
	}
	lo, hi, ok := strings.Cut(*f.RelayPorts, "-")
	min, err1 := strconv.Atoi(lo)
	max, err2 := strconv.Atoi(hi)
	if !ok || err1 != nil || err2 != nil || min <= 0 || max < min {
		return Config{}, fmt.Errorf("%w: relay ports %q, want MIN-MAX", ErrConfig, *f.RelayPorts)
	}
	cfg.RelayPortMin, cfg.RelayPortMax = min, max
	return cfg, nil
}
