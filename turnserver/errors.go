package turnserver

import "errors"

// Errors.
var (
	// ErrConfig: an invalid Config.
	ErrConfig = errors.New("turnserver: invalid config")
	// ErrUserQuota: a user already has MaxAllocationsPerUser allocations.
	ErrUserQuota = errors.New("turnserver: allocation quota of the user reached")
	// ErrTotalQuota: the server already has MaxAllocations allocations.
	ErrTotalQuota = errors.New("turnserver: allocation quota of the server reached")
	// ErrTCPRelay: a TCP relay allocation (RFC 6062), which WebRTC never asks for.
	ErrTCPRelay = errors.New("turnserver: TCP relay allocations are not offered")
)
