package explorer

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func do(t *testing.T, h http.Handler, method, path string) (int, string, http.Header) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader("{}")))
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b), rec.Result().Header
}

// The page, its network.json and read-only proxies to the units.
func TestExplorer(t *testing.T) {
	units := map[string]*httptest.Server{}
	for _, name := range []string{"gateway", "su", "cu", "mu"} {
		name := name
		units[name] = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodHead { // as the CU's /state: the memory's size
				w.Header().Set("Content-Length", "7")
				return
			}
			io.WriteString(w, name+" "+r.Method+" "+r.URL.RequestURI())
		}))
		t.Cleanup(units[name].Close)
	}
	desc := `{"muAddress":"x"}`
	var descErr error
	h, err := New(Config{GatewayURL: units["gateway"].URL, SUURL: units["su"].URL, CUURL: units["cu"].URL, MUURL: units["mu"].URL,
		NetworkJSON: func() ([]byte, error) { return []byte(desc), descErr }})
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{"/": "<title>aocu dev explorer</title>", "/app.js": "refreshDeliveries", "/style.css": "--accent"} {
		if code, body, _ := do(t, h, "GET", path); code != 200 || !strings.Contains(body, want) {
			t.Errorf("GET %s: %d, lacks %q", path, code, want)
		}
	}
	if code, body, hdr := do(t, h, "GET", "/network.json"); code != 200 || body != desc || hdr.Get("Content-Type") != "application/json" {
		t.Errorf("GET /network.json: %d %q %v", code, body, hdr)
	}
	descErr = errors.New("gone")
	if code, _, _ := do(t, h, "GET", "/network.json"); code != 500 {
		t.Errorf("GET /network.json without a file: %d", code)
	}
	for path, want := range map[string]string{
		"/api/su/pid?limit=5":           "su GET /pid?limit=5",
		"/api/cu/result/m?process-id=p": "cu GET /result/m?process-id=p",
		"/api/gateway/raw/abc":          "gateway GET /raw/abc",
	} {
		if code, body, _ := do(t, h, "GET", path); code != 200 || !strings.HasPrefix(body, want) {
			t.Errorf("GET %s: %d %q, want %q", path, code, body, want)
		}
	}
	if code, body, _ := do(t, h, "POST", "/api/gateway/graphql"); code != 200 || !strings.HasPrefix(body, "gateway POST /graphql") {
		t.Errorf("POST graphql: %d %q", code, body)
	}
	if code, _, hdr := do(t, h, "HEAD", "/api/cu/state/p"); code != 200 || hdr.Get("Content-Length") != "7" {
		t.Errorf("HEAD state: %d %v", code, hdr)
	}
	// Nothing that writes goes through.
	for _, path := range []string{"/api/mu/", "/api/su/", "/api/gateway/tx", "/api/mu/monitor/p", "/api/cu/dry-run", "/api/su/graphql"} {
		if code, _, _ := do(t, h, "POST", path); code != http.StatusMethodNotAllowed {
			t.Errorf("POST %s: %d, want 405", path, code)
		}
	}
	if _, err := New(Config{GatewayURL: "not a url"}); err == nil {
		t.Error("New accepted a bad URL")
	}
}
