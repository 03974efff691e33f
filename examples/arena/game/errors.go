package game

import "errors"

// ErrBadInput is wrapped by DecodeInput's errors.
var ErrBadInput = errors.New("game: bad input")
