package su

import (
	"strconv"
	"testing"
)

// TestNonceMode checks from-nonce (exclusive, -1 includes the process) and
// to-nonce (inclusive), as the Rust SU's fetch_message_range_nonce and
// get_messages (local_store/store.rs, ao@ff178d5).
func TestNonceMode(t *testing.T) {
	n := startNet(t)
	pid := n.spawn(t)
	for range 5 {
		n.message(t, pid)
	}
	nonces := func(p pageJSON) (s string, cursors string) {
		for _, e := range p.Edges {
			s += tagMap(e.Node.Assignment.Tags)["Nonce"]
			cursors += e.Cursor
		}
		return s, cursors
	}
	ts := n.all(t, pid)[3].Cursor // a timestamp cursor, ignored in nonce mode
	cases := []struct {
		q    string
		want string
		next bool
	}{
		{"&from-nonce=-1", "012345", false},
		{"&from-nonce=0", "12345", false}, // exclusive: no process
		{"&from-nonce=2", "345", false},
		{"&from-nonce=2&limit=2", "34", true},
		{"&from-nonce=3&limit=2", "45", true}, // has_next_page quirk at the limit
		{"&from-nonce=5", "", false},
		{"&to-nonce=2", "012", false}, // no from-nonce: the process leads
		{"&from-nonce=1&to-nonce=3", "23", false},
		{"&from-nonce=-1&to-nonce=0", "0", false},
		{"&from-nonce=-1&limit=3", "012", true},
		{"&from-nonce=-1&limit=1", "0", false},               // limit-1 edge case
		{"&from-nonce=-1&limit=1&to-nonce=0", "0", false},    // ditto
		{"&from-nonce=-1&limit=1&to-nonce=3", "0", true},     // ditto
		{"&from-nonce=1&to-nonce=3&from=" + ts, "23", false}, // from is ignored
		{"&from-nonce=1&to=" + ts + "&limit=100", "2345", false},
	}
	for _, c := range cases {
		p := n.page(t, pid, c.q)
		got, cur := nonces(p)
		if got != c.want || p.PageInfo.HasNextPage != c.next {
			t.Errorf("%s: nonces %q next %v, want %q %v", c.q, got, p.PageInfo.HasNextPage, c.want, c.next)
		}
		if cur != got {
			t.Errorf("%s: cursors %q, want the nonces %q", c.q, cur, got)
		}
	}
	// Walking with the last cursor as from-nonce gives everything once.
	var got string
	from := "-1"
	for i := 0; ; i++ {
		p := n.page(t, pid, "&limit=2&from-nonce="+from)
		s, _ := nonces(p)
		got += s
		if !p.PageInfo.HasNextPage {
			break
		}
		last, err := strconv.Atoi(p.Edges[len(p.Edges)-1].Cursor)
		if err != nil {
			t.Fatal(err)
		}
		from = strconv.Itoa(last)
		if i > 10 {
			t.Fatal("no end")
		}
	}
	if got != "012345" {
		t.Fatalf("walk %q", got)
	}
	var e struct{ Error string }
	if code := getJSON(t, n.suHS.URL+"/"+pid+"?from-nonce=abc", &e); code != 400 {
		t.Fatalf("bad from-nonce: %d", code)
	}
}
