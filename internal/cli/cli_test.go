package cli

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		args []string
		want error // nil, flag.ErrHelp or ErrUsage
		out  string
	}{
		{nil, nil, ""},
		{[]string{"-n", "3"}, nil, ""},
		{[]string{"-h"}, flag.ErrHelp, "Usage: demo [flags]\n\nDoes things.\n\nFlags:\n  -n int"},
		{[]string{"-nosuch"}, ErrUsage, "flag provided but not defined: -nosuch"},
		{[]string{"extra"}, ErrUsage, `demo: unexpected argument "extra"`},
	}
	for _, tc := range tests {
		fs := flag.NewFlagSet("demo", flag.ContinueOnError)
		var out strings.Builder
		fs.SetOutput(&out)
		fs.Int("n", 1, "how many")
		err := Parse(fs, tc.args, "demo [flags]", "Does things.")
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("Parse(%q) = %v; want %v", tc.args, err, tc.want)
		}
		if !strings.Contains(out.String(), tc.out) {
			t.Errorf("Parse(%q) printed %q; want it to contain %q", tc.args, out.String(), tc.out)
		}
		if tc.want == ErrUsage && !strings.Contains(out.String(), "Usage: demo") {
			t.Errorf("Parse(%q) printed no usage: %q", tc.args, out.String())
		}
	}
}

func TestStatus(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{flag.ErrHelp, 0},
		{errors.Join(ErrUsage, io.EOF), 2},
		{io.EOF, 1},
	} {
		if got := Status("demo", tc.err); got != tc.want {
			t.Errorf("Status(%v) = %d; want %d", tc.err, got, tc.want)
		}
	}
}
