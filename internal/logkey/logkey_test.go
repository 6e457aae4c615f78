package logkey_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/streamview/streamview/internal/logkey"
)

// TestNoOtherSpellingOfAFixedKey: no code of the module logs a fixed key
// under another spelling (aggregate_id for aggregateId, event_type for
// eventType), which a query by the fixed key misses: the notifier's and
// the API's history errors did.
func TestNoOtherSpellingOfAFixedKey(t *testing.T) {
	others := map[string]string{}
	for _, k := range []string{logkey.AggregateID, logkey.CommandID, logkey.EventType} {
		var snake strings.Builder
		for _, r := range k {
			if unicode.IsUpper(r) {
				snake.WriteByte('_')
			}
			snake.WriteRune(unicode.ToLower(r))
		}
		others[snake.String()] = k
		others[strings.ToLower(k)] = k
	}
	fset := token.NewFileSet()
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != "../.." || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			// A log call's attribute keys: "error" for err too.
			if call, ok := n.(*ast.CallExpr); ok {
				if sel, ok := call.Fun.(*ast.SelectorExpr); ok && logCalls[sel.Sel.Name] && len(call.Args) > 1 {
					for _, a := range call.Args[1:] {
						if lit, ok := a.(*ast.BasicLit); ok && lit.Kind == token.STRING && lit.Value == `"error"` {
							t.Errorf("%s: log attribute \"error\": log it as logkey's %q", fset.Position(lit.Pos()), logkey.Err)
						}
					}
				}
			}
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if v, err := strconv.Unquote(lit.Value); err == nil {
					if k, bad := others[v]; bad {
						t.Errorf("%s: %q: log it as logkey's %q", fset.Position(lit.Pos()), v, k)
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// logCalls are the slog methods whose arguments after the first are the
// message and attributes.
var logCalls = map[string]bool{
	"Debug": true, "Info": true, "Warn": true, "Error": true,
	"DebugContext": true, "InfoContext": true, "WarnContext": true, "ErrorContext": true, "Log": true,
}
