package main

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
)

// startProfiles starts CPU profiling, block and mutex sampling and, with
// withTrace, an execution trace; the returned function writes cpu.pprof,
// block.pprof, mutex.pprof, allocs.pprof (every allocation since the start of the
// process, sampled) and trace.out into dir.
func startProfiles(dir string, withTrace bool) (func() error, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cpu, err := os.Create(filepath.Join(dir, "cpu.pprof"))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		cpu.Close()
		return nil, err
	}
	var tr *os.File
	if withTrace {
		if tr, err = os.Create(filepath.Join(dir, "trace.out")); err != nil {
			return nil, err
		}
		if err := trace.Start(tr); err != nil {
			tr.Close()
			return nil, err
		}
	}
	runtime.SetBlockProfileRate(int(1e6)) // one sample per millisecond blocked
	runtime.SetMutexProfileFraction(10)
	return func() error {
		pprof.StopCPUProfile()
		errs := []error{cpu.Close()}
		if tr != nil {
			trace.Stop()
			errs = append(errs, tr.Close())
		}
		for _, name := range []string{"block", "mutex", "allocs"} {
			f, err := os.Create(filepath.Join(dir, name+".pprof"))
			if err != nil {
				errs = append(errs, err)
				continue
			}
			errs = append(errs, pprof.Lookup(name).WriteTo(f, 0), f.Close())
		}
		return errors.Join(errs...)
	}, nil
}
