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
// struct fields (a comment above or at the end of the line; embedded fields are
// documented by their type, and the type's comment covers the fields of a struct
// written on one line, such as struct{ X, Y float64 }) and interface methods.
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
						for _, fl := range typ.Fields.List {
							for _, n := range fl.Names {
								if n.IsExported() && fl.Doc == nil && fl.Comment == nil {
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
