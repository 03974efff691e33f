package main

import "errors"

// runLatency is a placeholder until the latency benchmark lands.
func runLatency(args []string) error { return errors.New("latency: not implemented yet") }
