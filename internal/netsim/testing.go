package netsim

import "testing"

// ForTest returns a Network for a test: it fails the test if the network cannot
// start and closes it when the test (and its deferred calls) end.
func ForTest(t testing.TB, cfg Config) *Network {
	t.Helper()
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

// MustNet is NewNet for tests: it fails the test on error.
func (n *Network) MustNet(t testing.TB) *Net {
	t.Helper()
	nw, err := n.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	return nw
}
