package doccheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocComments checks that every exported identifier of the module's packages
// (commands and tests excepted) has a doc comment: functions, methods of exported
// types, types, constants and variables (a group's comment covers its members),
// struct fields and interface methods. A field's comment is above it or at the end
// of its line, or is the comment above the run of fields (on adjacent lines) it
// belongs to when that comment names it ("CommandRate and CommandBurst form a token
// bucket"); embedded fields are documented by their type, and the type's comment
// covers the fields of a struct written on one line, such as struct{ X, Y float64 }.
func TestDocComments(t *testing.T) {
	files := 0
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && skipDir(d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		if f.Name.Name == "main" {
			return nil
		}
		files++
		rel, _ := filepath.Rel(root, path)
		for _, missing := range undocumented(fset, f) {
			t.Errorf("%s:%d: %s has no doc comment", filepath.ToSlash(rel), fset.Position(missing.pos).Line, missing.name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatal("no Go files found under the module root")
	}
}

type missingDoc struct {
	name string
	pos  token.Pos
}

// undocumented lists the exported identifiers of f that lack a doc comment.
func undocumented(fset *token.FileSet, f *ast.File) []missingDoc {
	var out []missingDoc
	miss := func(name string, pos token.Pos) { out = append(out, missingDoc{name, pos}) }
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			name := d.Name.Name
			if d.Recv != nil {
				recv := receiverType(d.Recv.List[0].Type)
				if !ast.IsExported(recv) {
					continue
				}
				name = recv + "." + name
			}
			if d.Name.IsExported() && d.Doc == nil {
				miss(name, d.Pos())
			}
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					if !s.Name.IsExported() {
						continue
					}
					if s.Doc == nil && d.Doc == nil && s.Comment == nil {
						miss(s.Name.Name, s.Pos())
					}
					switch typ := s.Type.(type) {
					case *ast.StructType:
						if fset.Position(typ.Fields.Opening).Line == fset.Position(typ.Fields.Closing).Line {
							continue
						}
						// group is the comment above the run of fields (adjacent
						// lines) the current one belongs to.
						group, prevEnd := "", -1
						for _, fl := range typ.Fields.List {
							line := fset.Position(fl.Pos()).Line
							if fl.Doc != nil {
								group = fl.Doc.Text()
							} else if line != prevEnd+1 {
								group = ""
							}
							prevEnd = fset.Position(fl.End()).Line
							for _, n := range fl.Names {
								if n.IsExported() && fl.Doc == nil && fl.Comment == nil && !namesWord(group, n.Name) {
									miss(s.Name.Name+"."+n.Name, n.Pos())
								}
							}
						}
					case *ast.InterfaceType:
						for _, m := range typ.Methods.List {
							for _, n := range m.Names {
								if n.IsExported() && m.Doc == nil && m.Comment == nil {
									miss(s.Name.Name+"."+n.Name, n.Pos())
								}
							}
						}
					}
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if n.IsExported() && s.Doc == nil && s.Comment == nil && d.Doc == nil {
							miss(n.Name, n.Pos())
						}
					}
				}
			}
		}
	}
	return out
}

// namesWord reports whether text contains word as a whole word.
func namesWord(text, word string) bool {
	for i := 0; ; {
		j := strings.Index(text[i:], word)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(word)
		if (start == 0 || !isIdentByte(text[start-1])) && (end == len(text) || !isIdentByte(text[end])) {
			return true
		}
		i = end
	}
}

func isIdentByte(b byte) bool {
	return b == '_' || '0' <= b && b <= '9' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z'
}

// receiverType returns the name of a method receiver's type: T for T, *T, T[P].
func receiverType(e ast.Expr) string {
	for {
		switch x := e.(type) {
		case *ast.StarExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.IndexListExpr:
			e = x.X
		case *ast.ParenExpr:
			e = x.X
		case *ast.Ident:
			return x.Name
		default:
			return ""
		}
	}
}
