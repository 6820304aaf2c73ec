// Package explorer is the web page `aocu dev` serves to look at its network:
// the processes, and for one process its messages in order with their
// results, its outbox deliveries through the MU, its crons, its memory and
// checkpoints. The page is static (embedded in the binary, no build step);
// its data comes from the units' public HTTP APIs, which this handler proxies
// under /api/<unit>/ so that the page needs no CORS. It also serves the
// network's description, /network.json.
package explorer

import (
	"embed"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httputil"
	"net/url"
)

//go:embed static
var static embed.FS

// Config names the units and the description the explorer serves.
type Config struct {
	GatewayURL, SUURL, CUURL, MUURL string
	// NetworkJSON returns <data-dir>/network.json's bytes.
	NetworkJSON func() ([]byte, error)
}

// New returns the explorer's handler.
func New(c Config) (http.Handler, error) {
	m := http.NewServeMux()
	for _, u := range []struct{ name, url string }{{"gateway", c.GatewayURL}, {"su", c.SUURL}, {"cu", c.CUURL}, {"mu", c.MUURL}} {
		target, err := url.Parse(u.url)
		if err != nil || target.Host == "" {
			return nil, fmt.Errorf("explorer: the %s URL %q: %v", u.name, u.url, err)
		}
		p := &httputil.ReverseProxy{
			Rewrite: func(r *httputil.ProxyRequest) {
				r.SetURL(target)
				r.Out.Host = target.Host
			},
			FlushInterval: -1,
		}
		prefix := "/api/" + u.name
		// Only reads: the page never writes through the proxies.
		m.Handle("GET "+prefix+"/", http.StripPrefix(prefix, p))
		if u.name == "gateway" {
			m.Handle("POST "+prefix+"/graphql", http.StripPrefix(prefix, p)) // GraphQL queries
		}
	}
	m.HandleFunc("GET /network.json", func(w http.ResponseWriter, _ *http.Request) {
		b, err := c.NetworkJSON()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(b)
	})
	sub, err := fs.Sub(static, "static")
	if err != nil {
		return nil, err
	}
	files := http.FileServerFS(sub)
	m.Handle("GET /", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	}))
	return m, nil
}
