package api

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
)

// consoleFiles are the web console: one page and its script and style,
// served as they are (no build step).
//
//go:embed console
var consoleFiles embed.FS

// consoleETags are the ETags of the console's files, by name.
var consoleETags = func() map[string]string {
	tags := map[string]string{}
	entries, _ := fs.ReadDir(consoleFiles, "console")
	for _, e := range entries {
		b, _ := consoleFiles.ReadFile("console/" + e.Name())
		sum := sha256.Sum256(b)
		tags[e.Name()] = `"` + hex.EncodeToString(sum[:8]) + `"`
	}
	return tags
}()

// consolePage answers GET /: the console's page. It holds no data: the
// page calls the JSON API, with the token a person pastes into it.
func (s *Server) consolePage(w http.ResponseWriter, r *http.Request) {
	s.consoleFile(w, r, "index.html")
}

// consoleAsset answers GET /console/{file}.
func (s *Server) consoleAsset(w http.ResponseWriter, r *http.Request) {
	s.consoleFile(w, r, r.PathValue("file"))
}

func (s *Server) consoleFile(w http.ResponseWriter, r *http.Request, name string) {
	tag, ok := consoleETags[name]
	if !ok {
		writeProblem(w, newProblem(http.StatusNotFound, problemBlank, "No such file of the console."))
		return
	}
	b, err := consoleFiles.ReadFile("console/" + name)
	if err != nil {
		writeProblem(w, newProblem(http.StatusNotFound, problemBlank, "No such file of the console."))
		return
	}
	h := w.Header()
	h.Set("ETag", tag)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	if noneMatch(r.Header, tag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	w.Write(b)
}
