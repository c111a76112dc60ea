package kernels

import (
	"bufio"
	"go/ast"
	"go/build/constraint"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAssemblyStubsAreNoescape: every Go declaration of an assembly routine
// carries //go:noescape. Without it the compiler must assume the assembly
// keeps its pointer arguments, so every buffer handed to a kernel through
// unsafe.SliceData would be moved to the heap.
func TestAssemblyStubsAreNoescape(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	stubs := 0
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body != nil {
				continue
			}
			stubs++
			noescape := false
			if fn.Doc != nil {
				for _, c := range fn.Doc.List {
					noescape = noescape || c.Text == "//go:noescape"
				}
			}
			if !noescape {
				t.Errorf("%s: assembly stub %s has no //go:noescape", fset.Position(fn.Pos()), fn.Name.Name)
			}
		}
	}
	if stubs == 0 {
		t.Fatal("found no assembly stubs; the test looks in the wrong place")
	}
}

// TestPuregoIsNoasm: the community tag purego selects exactly the files that
// noasm selects, on amd64 and elsewhere, so a user who builds everything with
// -tags purego gets the pure-Go kernels (and no assembly) here too.
func TestPuregoIsNoasm(t *testing.T) {
	var files []string
	for _, pat := range []string{"*.go", "*.s"} {
		m, err := filepath.Glob(pat)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	asm := 0
	for _, name := range files {
		expr := buildLine(t, name)
		if expr == nil {
			if strings.HasSuffix(name, ".s") || strings.HasSuffix(name, "_amd64.go") {
				t.Errorf("%s: assembly-side file without a //go:build line", name)
			}
			continue
		}
		for _, arch := range []string{"amd64", "arm64", "386"} {
			with := func(tag string) bool {
				return expr.Eval(func(t string) bool { return t == arch || t == tag || (t == "linux") })
			}
			if with("noasm") != with("purego") {
				t.Errorf("%s on %s: built with noasm=%v but with purego=%v", name, arch, with("noasm"), with("purego"))
			}
			if strings.HasSuffix(name, ".s") && (with("noasm") || with("purego")) {
				t.Errorf("%s on %s: assembly is built under noasm or purego", name, arch)
			}
		}
		if strings.HasSuffix(name, ".s") {
			asm++
		}
	}
	if asm == 0 {
		t.Fatal("found no assembly files; the test looks in the wrong place")
	}
}

// buildLine returns the //go:build expression of a file's header, or nil.
func buildLine(t *testing.T, name string) constraint.Expr {
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "package ") || strings.HasPrefix(line, "#include") {
			return nil
		}
		if constraint.IsGoBuild(line) {
			expr, err := constraint.Parse(line)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return expr
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return nil
}
