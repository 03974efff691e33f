// Package clitest checks the command-line manners of every command of the module:
// -h and -help print a usage and exit 0, a command with subcommands lists them and
// names an unknown one, an unexpected argument or flag exits 2, and the arena with
// its port taken says so in one line. Its test builds every command once and runs
// the binaries.
package clitest
