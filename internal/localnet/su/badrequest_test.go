package su

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/aocu/aocu/internal/arweave"
	"github.com/aocu/aocu/internal/localnet/localnettest"
)

// TestPageClientMistakes: a bad limit or bound answers 400 {"error"} naming
// it, and good bounds still work.
func TestPageClientMistakes(t *testing.T) {
	n := startNet(t)
	pid := n.spawn(t)
	n.message(t, pid)
	base := n.suHS.URL + "/" + pid + "?process-id=" + pid
	for q, want := range map[string]string{
		"&limit=-1":          "invalid limit -1",
		"&limit=0":           "invalid limit 0",
		"&limit=2147483648":  "invalid limit 2147483648",
		"&limit=ten":         `invalid limit "ten"`,
		"&limit=1.5":         `invalid limit "1.5"`,
		"&from=abc":          `invalid from "abc"`,
		"&to=garbage":        `invalid to "garbage"`,
		"&from=1&to=x":       `invalid to "x"`,
		"&from-nonce=a":      `invalid from-nonce "a"`,
		"&to-nonce=1e3":      `invalid to-nonce "1e3"`,
		"&from-nonce=-2":     "invalid from-nonce -2",
		"&from-nonce=0&to=x": "", // nonce mode ignores to: a good page
	} {
		code, b := do(t, "GET", base+q, nil)
		if want == "" {
			if code != 200 {
				t.Errorf("%s: %d %s", q, code, b)
			}
			continue
		}
		var e struct{ Error string }
		if err := json.Unmarshal(b, &e); err != nil || code != http.StatusBadRequest || !strings.Contains(e.Error, want) {
			t.Errorf("%s: %d %s, want 400 with %q", q, code, b, want)
		}
	}
	for _, q := range []string{"&limit=1", "&limit=2147483647", "&from-nonce=-1&limit=5"} {
		if p := n.page(t, pid, q); len(p.Edges) == 0 {
			t.Errorf("%s: empty page", q)
		}
	}
}

// TestAssignmentMistakes: items that claim to be assignments, unsigned or
// wrongly signed items, items whose tags are not UTF-8, and assignments of a process to itself or of a
// message the process holds are refused with 400 and consume no nonce.
func TestAssignmentMistakes(t *testing.T) {
	n := startNet(t)
	pid := n.spawn(t)
	mid := n.message(t, pid)
	suSigner := localnettest.EDSigner("not-the-su")

	assignTags := func() []arweave.Tag {
		return localnettest.Tags("Process", pid, "Epoch", "0", "Nonce", "2", "Hash-Chain", pid, "Block-Height", "000000000001",
			"Timestamp", "1", "Data-Protocol", "ao", "Type", "Assignment", "Variant", "ao.TN.1", "Message", mid)
	}
	// Signed by someone: the SU makes assignments, it does not take them.
	_, signed := signItem(t, suSigner, "", pid, "", assignTags())
	// Unsigned: a data item whose signature is zeros.
	d, err := arweave.NewDataItem(nil, pid, "", assignTags())
	if err != nil {
		t.Fatal(err)
	}
	d.SignatureType = 2 // ED25519
	d.Owner = suSigner.PublicKey()
	d.Signature = make([]byte, 64)
	unsigned, err := d.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	// Wrongly signed: another key's signature over the same item.
	_, other := signItem(t, localnettest.EDSigner("someone-else"), "", pid, "", assignTags())
	od, err := arweave.ParseDataItem(other)
	if err != nil {
		t.Fatal(err)
	}
	d.Signature = od.Signature
	wrong, err := d.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	// Tags that are not UTF-8: the Rust SU's Avro decoding refuses them.
	_, badTag := signItem(t, n.user, "x", pid, "", localnettest.Tags("Data-Protocol", "ao", "Type", "Message", "Bad", "\xff\xfe"))
	_, badName := signItem(t, n.user, "x", pid, "", localnettest.Tags("Data-Protocol", "ao", "Type", "Message", "\xc3", "v"))
	tagErr := `error in builder: BuilderError("Byte error in builder: ByteError(\"Byte error: InvalidTagEncoding\")")`
	sigErr := `error in builder: BuilderError("Byte error in builder: ByteError(\"Signature verification failed\")")`
	for name, c := range map[string]struct {
		raw  []byte
		want string
	}{
		"signed Assignment item": {signed, errTypeValue},
		"unsigned Assignment":    {unsigned, sigErr},
		"wrongly signed":         {wrong, sigErr},
		"tag value not UTF-8":    {badTag, tagErr},
		"tag name not UTF-8":     {badName, tagErr},
		"truncated item":         {unsigned[:10], "error in builder"},
	} {
		code, pr := n.post(t, c.raw)
		if code != http.StatusBadRequest || !strings.HasPrefix(pr.Error, c.want) {
			t.Errorf("%s: %d %q, want 400 %q", name, code, pr.Error, c.want)
		}
	}
	for q, want := range map[string]string{
		"?process-id=" + pid + "&assign=" + pid: errSelfAssign,
		"?process-id=" + pid + "&assign=" + mid: errMessageExists,
	} {
		code, b := do(t, "POST", n.suHS.URL+"/"+q, nil)
		var e struct{ Error string }
		if json.Unmarshal(b, &e); code != http.StatusBadRequest || e.Error != want {
			t.Errorf("%s: %d %s, want 400 %q", q, code, b, want)
		}
	}
	edges := n.all(t, pid)
	if len(edges) != 2 {
		t.Fatalf("%d edges after refusals, want 2", len(edges))
	}
	checkChain(t, pid, edges)
}
