// Package web holds Prism's browser client: the client library prism.js and
// the demo page that uses it. The files are embedded in the binary, so the
// server can serve them with no files on disk.
package web

import (
	"embed"
	"net/http"
)

// FS holds the browser client: index.html, app.js, prism.js and style.css.
// It is read-only; the embed.FS variable is the standard idiom for go:embed.
//
//go:embed index.html app.js prism.js style.css
var FS embed.FS

// Handler returns an http.Handler that serves the browser client, with
// index.html at "/". Mount it at the root of the server. Responses carry
// "Cache-Control: no-cache", so a browser revalidates after an upgrade of
// the server.
func Handler() http.Handler {
	files := http.FileServerFS(FS)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		files.ServeHTTP(w, r)
	})
}
