package su

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/arweave"
	"github.com/aocu/aocu/internal/localnet/localnettest"
)

// postRaw posts an item from any goroutine (no t.Fatal) and returns the
// status and the answer.
func postRaw(url string, raw []byte) (int, postResp, error) {
	resp, err := http.Post(url+"/", "application/octet-stream", bytes.NewReader(raw))
	if err != nil {
		return 0, postResp{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, postResp{}, err
	}
	var pr postResp
	if err := json.Unmarshal(b, &pr); err != nil {
		return resp.StatusCode, pr, fmt.Errorf("answer %d %q: %w", resp.StatusCode, b, err)
	}
	return resp.StatusCode, pr, nil
}

func signedMessage(t *testing.T, n *testNet, pid, data string) (*arweave.DataItem, []byte) {
	t.Helper()
	return signItem(t, n.user, data, pid, "", localnettest.Tags("Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Message"))
}

// TestConcurrentWritersOneProcess: many writers on one process, with the
// signature of one assignment overlapping the commit of the previous one and
// commits grouped: every writer is answered, the slots are 1..N with no gap,
// the hash chain holds, every answered item is on the gateway when
// answered, and every answer is on disk after a restart.
func TestConcurrentWritersOneProcess(t *testing.T) {
	n := startNet(t)
	pid := n.spawn(t)
	const writers = 24
	raws := make([][]byte, writers)
	for i := range raws {
		_, raws[i] = signedMessage(t, n, pid, "writer "+strconv.Itoa(i))
	}
	answers := make([]postResp, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			code, pr, err := postRaw(n.suHS.URL, raws[i])
			if err != nil || code != 200 {
				t.Errorf("writer %d: %d %+v %v", i, code, pr, err)
				return
			}
			answers[i] = pr
			// Answered: the item is on the gateway already.
			resp, err := http.Get(n.gwHS.URL + "/tx/" + pr.ID)
			if err != nil {
				t.Errorf("writer %d: gateway: %v", i, err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("writer %d: item %s not on the gateway when answered: %d", i, pr.ID, resp.StatusCode)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	n.stopSU()
	n.startSU(t)
	edges := n.all(t, pid)
	if len(edges) != writers+1 {
		t.Fatalf("%d edges after restart, want %d", len(edges), writers+1)
	}
	checkChain(t, pid, edges)
	byID := map[string]edgeJSON{}
	for _, e := range edges[1:] {
		byID[e.Node.Message.ID] = e
	}
	for i, a := range answers {
		e, ok := byID[a.ID]
		if !ok {
			t.Fatalf("writer %d: answered id %s is not on disk", i, a.ID)
		}
		if e.Cursor != strconv.FormatInt(a.Timestamp, 10) {
			t.Fatalf("writer %d: answered timestamp %d, stored %s", i, a.Timestamp, e.Cursor)
		}
	}
	// The SU goes on from the slots on disk.
	n.message(t, pid)
	edges = n.all(t, pid)
	if len(edges) != writers+2 {
		t.Fatalf("%d edges, want %d", len(edges), writers+2)
	}
	checkChain(t, pid, edges)
}

func setHook(k *committer, f func([]*commitReq) error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.beforeCommit = f
}

// waitQueued waits until the committer holds want queued requests.
func waitQueued(t *testing.T, k *committer, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		k.mu.Lock()
		got := len(k.queue)
		k.mu.Unlock()
		if got >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("committer queue %d, want %d", got, want)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestCommitFailureCascades: when an assignment fails to commit, the one
// signed on top of it fails too (nobody is answered for either), and the
// next one takes the slot after the last one on disk: no gap, no fork of
// the hash chain.
func TestCommitFailureCascades(t *testing.T) {
	n := startNet(t)
	pid := n.spawn(t)
	n.message(t, pid) // nonce 1 on disk

	inTx := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	setHook(n.su.commits, func([]*commitReq) error {
		fail := false
		once.Do(func() {
			fail = true
			close(inTx)
			<-release
		})
		if fail {
			return errors.New("disk on fire")
		}
		return nil
	})
	_, rawA := signedMessage(t, n, pid, "A")
	_, rawB := signedMessage(t, n, pid, "B")
	type answer struct {
		code int
		pr   postResp
		err  error
	}
	a, b := make(chan answer, 1), make(chan answer, 1)
	go func() {
		code, pr, err := postRaw(n.suHS.URL, rawA)
		a <- answer{code, pr, err}
	}()
	<-inTx // A is in the transaction that will fail
	go func() {
		code, pr, err := postRaw(n.suHS.URL, rawB)
		b <- answer{code, pr, err}
	}()
	waitQueued(t, n.su.commits, 1) // B, signed on top of A, waits its turn
	close(release)
	for name, ch := range map[string]chan answer{"A": a, "B": b} {
		r := <-ch
		if r.err != nil || r.code == 200 {
			t.Fatalf("%s: answered %d %+v %v, want a failure", name, r.code, r.pr, r.err)
		}
	}
	edges := n.all(t, pid)
	if len(edges) != 2 {
		t.Fatalf("%d edges after the failed commit, want 2", len(edges))
	}
	// A again, then C: nonces 2 and 3, chained on nonce 1.
	if pr := n.mustPost(t, rawA); pr.ID == "" {
		t.Fatal("A refused on retry")
	}
	n.message(t, pid)
	edges = n.all(t, pid)
	if len(edges) != 4 {
		t.Fatalf("%d edges, want 4", len(edges))
	}
	checkChain(t, pid, edges)
}

// TestDuplicateWhileCommitting: a message posted again while its first
// assignment is still on its way to disk is refused, as it is once on disk.
func TestDuplicateWhileCommitting(t *testing.T) {
	n := startNet(t)
	pid := n.spawn(t)
	inTx := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	setHook(n.su.commits, func([]*commitReq) error {
		once.Do(func() {
			close(inTx)
			<-release
		})
		return nil
	})
	_, raw := signedMessage(t, n, pid, "twice")
	first := make(chan error, 1)
	go func() {
		code, pr, err := postRaw(n.suHS.URL, raw)
		if err == nil && code != 200 {
			err = fmt.Errorf("first: %d %+v", code, pr)
		}
		first <- err
	}()
	<-inTx
	// Without the check the duplicate would be signed and queued behind
	// the first (held in its transaction): that is the failure.
	second := make(chan postResp, 1)
	go func() {
		code, pr, err := postRaw(n.suHS.URL, raw)
		if err != nil || code != 400 {
			pr.Error = fmt.Sprintf("%d %+v %v", code, pr, err)
		}
		second <- pr
	}()
	deadline := time.Now().Add(10 * time.Second)
	var pr postResp
wait:
	for {
		select {
		case pr = <-second:
			break wait
		case <-time.After(time.Millisecond):
		}
		n.su.commits.mu.Lock()
		queued := len(n.su.commits.queue)
		n.su.commits.mu.Unlock()
		if queued > 0 || time.Now().After(deadline) {
			close(release)
			t.Fatalf("the duplicate was signed and queued (%d) instead of refused", queued)
		}
	}
	close(release)
	if pr.Error != errMessageExists {
		t.Fatalf("duplicate while committing: %s", pr.Error)
	}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if code, pr := n.post(t, raw); code != 400 || pr.Error != errMessageExists {
		t.Fatalf("duplicate after commit: %d %+v", code, pr)
	}
	edges := n.all(t, pid)
	if len(edges) != 2 {
		t.Fatalf("%d edges, want 2", len(edges))
	}
	checkChain(t, pid, edges)
}
