package queue

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestTimeReadsGoThroughClock keeps every time read of queue/... (non-test code) on
// the injected Clock: only clock.go, RealClock's home, may call the time package's
// clock.
func TestTimeReadsGoThroughClock(t *testing.T) {
	forbidden := map[string]bool{
		"Now": true, "Since": true, "Until": true, "After": true, "Sleep": true,
		"NewTimer": true, "AfterFunc": true, "NewTicker": true, "Tick": true,
	}
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") ||
			strings.HasSuffix(path, "_test.go") || path == "clock.go" {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		timePkg := ""
		for _, imp := range f.Imports {
			if imp.Path.Value == `"time"` {
				timePkg = "time"
				if imp.Name != nil {
					timePkg = imp.Name.Name
				}
			}
		}
		if timePkg == "" {
			return nil
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == timePkg && forbidden[sel.Sel.Name] {
				t.Errorf("%s: time.%s: read the time through the Proxy's Clock", fset.Position(sel.Pos()), sel.Sel.Name)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
