package doccheck

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the Markdown files' Go blocks from their sources")

// root is the module's root directory, relative to this package.
const root = "../.."

// markdownFiles returns the module's Markdown files, relative to root.
func markdownFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && skipDir(d.Name()) {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".md") {
			rel, _ := filepath.Rel(root, path)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no Markdown files found under the module root")
	}
	return files
}

// skipDir reports whether a directory holds no files of the module's own
// (third_party: copies of other projects' modules, kept as they are upstream).
func skipDir(name string) bool {
	return name == "testdata" || name == "node_modules" || name == "third_party" ||
		strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")
}

var markerRE = regexp.MustCompile(`^<!-- snippet: (\S+)((?: \S+)*) -->$`)

// TestSnippets checks (or with -update rewrites) every Go block of every Markdown file,
// and every other code block with a marker, against the source its marker names.
func TestSnippets(t *testing.T) {
	blocks := 0
	for _, md := range markdownFiles(t) {
		src, err := os.ReadFile(filepath.Join(root, md))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitAfter(string(src), "\n")
		var out strings.Builder
		changed := false
		for i := 0; i < len(lines); i++ {
			out.WriteString(lines[i])
			fence := strings.TrimSpace(lines[i])
			if !strings.HasPrefix(fence, "```") || fence == "```" {
				continue // not the opening of a code block with a language
			}
			marked := i > 0 && strings.HasPrefix(strings.TrimSpace(lines[i-1]), "<!-- snippet:")
			if fence != "```go" && !marked {
				continue // a shell session, a TypeScript example kept elsewhere...
			}
			blocks++
			end := i + 1
			for end < len(lines) && strings.TrimSpace(lines[end]) != "```" {
				end++
			}
			if end == len(lines) {
				t.Errorf("%s:%d: the code block is never closed", md, i+1)
				break
			}
			got := strings.Join(lines[i+1:end], "")
			want, err := snippetFor(lines, i)
			switch {
			case err != nil:
				t.Errorf("%s:%d: %v", md, i+1, err)
				want = got
			case got != want:
				if !*update {
					t.Errorf("%s:%d: the code block differs from its source (%s); run go test ./internal/doccheck -update\n%s",
						md, i+1, strings.TrimSpace(strings.TrimPrefix(strings.TrimSuffix(lines[i-1], "-->\n"), "<!-- snippet:")), firstDiff(got, want))
				}
				changed = true
			}
			out.WriteString(want)
			out.WriteString(lines[end])
			i = end
		}
		if changed && *update {
			if err := os.WriteFile(filepath.Join(root, md), []byte(out.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("rewrote %s", md)
		}
	}
	if blocks == 0 {
		t.Fatal("no go blocks found: is the Markdown walk broken?")
	}
}

// snippetFor returns the text the code block opening at lines[open] must hold, from
// the marker on the line before it: the whole file when the marker names no
// declarations (any language), else the named Go declarations and bodies.
func snippetFor(lines []string, open int) (string, error) {
	if open == 0 {
		return "", fmt.Errorf("a go block needs a marker on the line before it: <!-- snippet: FILE NAME... -->")
	}
	m := markerRE.FindStringSubmatch(strings.TrimSpace(lines[open-1]))
	if m == nil {
		return "", fmt.Errorf("a go block needs a marker on the line before it: <!-- snippet: FILE NAME... -->, not %q", strings.TrimSpace(lines[open-1]))
	}
	file := m[1]
	src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(file)))
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(m[2]) == "" {
		return string(src), nil
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, src, parser.ParseComments)
	if err != nil {
		return "", err
	}
	var parts []string
	for _, name := range strings.Fields(m[2]) {
		body := strings.HasPrefix(name, "body:")
		name = strings.TrimPrefix(name, "body:")
		d := findDecl(f, name)
		if d == nil {
			return "", fmt.Errorf("%s declares no top-level %s", file, name)
		}
		if body {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				return "", fmt.Errorf("%s: body:%s names no function", file, name)
			}
			// The body between the braces, one tab less indented, with the comments
			// that follow the last statement (an example's output) included.
			text := string(src[fset.Position(fd.Body.Lbrace).Offset+1 : fset.Position(fd.Body.Rbrace).Offset])
			parts = append(parts, dedent(strings.Trim(text, "\n")))
			continue
		}
		start := d.Pos()
		if doc := declDoc(d); doc != nil {
			start = doc.Pos()
		}
		parts = append(parts, string(src[fset.Position(start).Offset:fset.Position(d.End()).Offset]))
	}
	return strings.Join(parts, "\n\n") + "\n", nil
}

// findDecl returns the top-level function, or the declaration of the type, const or
// var, called name.
func findDecl(f *ast.File, name string) ast.Decl {
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil && d.Name.Name == name {
				return d
			}
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					if s.Name.Name == name {
						return d
					}
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if n.Name == name {
							return d
						}
					}
				}
			}
		}
	}
	return nil
}

func declDoc(d ast.Decl) *ast.CommentGroup {
	switch d := d.(type) {
	case *ast.FuncDecl:
		return d.Doc
	case *ast.GenDecl:
		return d.Doc
	}
	return nil
}

// dedent removes one leading tab from every line.
func dedent(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, "\t")
	}
	return strings.Join(lines, "\n")
}

// firstDiff describes the first line where got and want differ.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d of the block:\n  Markdown: %q\n  source:   %q", i+1, gl, wl)
		}
	}
	return "(no line differs)"
}

var goRunRE = regexp.MustCompile("go run (\\./[^\\s`'\"|)]*)")

// TestGoRunPaths checks that every "go run ./dir" of the Markdown files names a
// directory of the module holding a main package.
func TestGoRunPaths(t *testing.T) {
	for _, md := range markdownFiles(t) {
		src, err := os.ReadFile(filepath.Join(root, md))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range goRunRE.FindAllSubmatch(src, -1) {
			dir := filepath.Join(root, filepath.FromSlash(string(m[1])))
			if !isMain(dir) {
				t.Errorf("%s: %s: %s is not a command of the module", md, m[0], m[1])
			}
		}
	}
}

// isMain reports whether dir holds a Go file of package main.
func isMain(dir string) bool {
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil || strings.HasSuffix(f, "_test.go") {
			continue
		}
		fset := token.NewFileSet()
		if af, err := parser.ParseFile(fset, f, src, parser.PackageClauseOnly); err == nil && af.Name.Name == "main" {
			return true
		}
	}
	return false
}
