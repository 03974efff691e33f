package server

import "errors"

// ErrBuild is wrapped by the errors of a failed wasm build.
var ErrBuild = errors.New("building the wasm client failed")
