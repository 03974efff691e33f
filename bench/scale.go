package main

import "errors"

// runScale is a placeholder until the scale benchmark lands.
func runScale(args []string) error { return errors.New("scale: not implemented yet") }
