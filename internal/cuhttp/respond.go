package cuhttp

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strconv"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/jsjson"
)

// The answers every CU route shares (the reference's shapes), exported for
// the sidecar routes of UNIT_MODE=hbu (internal/hbuhttp).

// WriteJSON writes body as a JSON answer with its length.
func WriteJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// WriteError writes {"error": msg}.
func WriteError(w http.ResponseWriter, status int, msg string) {
	var o jsjson.Object
	o.String("error", msg)
	WriteJSON(w, status, o.Bytes())
}

// Fail answers err with its status (499 when the client went away, 504 for a
// deadline); 5xx are logged.
func Fail(log *slog.Logger, w http.ResponseWriter, r *http.Request, err error) {
	status := ao.StatusOf(err)
	switch {
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		status = 499 // the client went away; nobody reads this
	case errors.Is(err, context.DeadlineExceeded):
		status = http.StatusGatewayTimeout
	}
	if status >= 500 {
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	}
	WriteError(w, status, err.Error())
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// CheckID validates an Arweave id parameter (400).
func CheckID(name, v string) error {
	if v == "" {
		return ao.Errorf(400, "'%s': Required.", name)
	}
	if !idPattern.MatchString(v) {
		return ao.Errorf(400, "'%s': %q is not a transaction id (43 base64url characters).", name, v)
	}
	return nil
}

// Restricted applies RESTRICT_PROCESSES and ALLOW_PROCESSES (403).
func Restricted(restrict, allow []string, pid string) error {
	if slices.Contains(restrict, pid) || (len(allow) > 0 && !slices.Contains(allow, pid)) {
		return ao.Errorf(403, "Access denied for process %s", pid)
	}
	return nil
}
