// Package doccheck holds the repository's documentation checks; its tests are the
// whole package:
//
//   - Every Go code block of the repository's Markdown files is copied from code that
//     go test compiles (and, for an example with an output comment, runs). A marker on
//     the line before the block names the source:
//
//     <!-- snippet: netcode/example_test.go Ball Push body:Example -->
//
//     copies the declarations of Ball and Push (with their doc comments) and the body
//     of Example, in that order, separated by blank lines; a marker that names only a
//     file copies all of it, in any language (a TypeScript example that npm run
//     typecheck checks). After changing a source, go test ./internal/doccheck -update
//     rewrites the blocks.
//
//   - Every "go run ./dir" in the Markdown files names a command of the module.
//
//   - Every exported identifier, struct field and interface method of the module's
//     packages has a doc comment.
package doccheck
