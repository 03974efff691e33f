package main

import "errors"

// runBandwidth is a placeholder until the bandwidth benchmark lands.
func runBandwidth(args []string) error { return errors.New("bandwidth: not implemented yet") }
