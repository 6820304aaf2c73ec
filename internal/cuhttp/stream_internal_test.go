package cuhttp

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

// cancelWriter cancels the request's context once it has written `after`
// bytes: the client went away.
type cancelWriter struct {
	bytes.Buffer
	after  int
	cancel context.CancelFunc
}

func (w *cancelWriter) Write(p []byte) (int, error) {
	n, err := w.Buffer.Write(p)
	if w.Len() >= w.after {
		w.cancel()
	}
	return n, err
}

// The stream stops at the next chunk when the client goes away, and at the
// first failed write.
func TestStateStreamStopsWhenTheClientGoesAway(t *testing.T) {
	img := bytes.NewReader(bytes.Repeat([]byte{7}, 10*stateChunk))
	ctx, cancel := context.WithCancel(context.Background())
	w := &cancelWriter{after: 1, cancel: cancel}
	err := streamState(ctx, w, img, img.Size())
	if !errors.Is(err, context.Canceled) || w.Len() != stateChunk {
		t.Fatalf("stream after the client left: %v, %d bytes written, want one chunk of %d", err, w.Len(), stateChunk)
	}
	var full bytes.Buffer
	if err := streamState(context.Background(), &full, img, img.Size()); err != nil || full.Len() != 10*stateChunk {
		t.Fatalf("whole stream: %v, %d bytes", err, full.Len())
	}
	fw := failWriter{}
	if err := streamState(context.Background(), fw, img, img.Size()); !errors.Is(err, errGone) {
		t.Fatalf("stream to a closed connection = %v", err)
	}
}

var errGone = errors.New("connection closed")

type failWriter struct{}

func (failWriter) Write(p []byte) (int, error) { return 0, errGone }
