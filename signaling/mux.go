package signaling

import (
	"fmt"
	"net/http"
)

// NewMux returns the HTTP routes of a Prism server: the WebSocket at /ws,
// a health check at /healthz, and web (the browser client, if not nil)
// at /.
func NewMux(s *Server, web http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/ws", s)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "ok %d clients\n", s.Clients())
	})
	if web != nil {
		mux.Handle("/", web)
	}
	return mux
}
